import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  childEnv,
  E2E_API_KEY,
  freePort,
  killAll,
  REPO_ROOT,
  removeDir,
  runCli,
  type ServerProcess,
  signal,
  spawnCli,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import { type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';

/**
 * The management commands as a user runs them: real `mailhook` processes talking to a real server
 * over HTTP, each driven with --json and checked by its output and its exit code.
 */

const dirs: string[] = [];

afterAll(async () => {
  await killAll();
  for (const dir of dirs) removeDir(dir);
});

async function server(extra: Record<string, string> = {}): Promise<ServerProcess> {
  const dir = tempDataDir();
  dirs.push(dir);
  return startServer({
    dataDir: dir,
    env: { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_LOG_LEVEL: 'warn', ...extra },
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs `mailhook <args>` against `url` with the admin key (unless `env` says otherwise). */
async function mh(url: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const result = await runCli(
    args,
    childEnv({ MAILHOOK_URL: url, MAILHOOK_API_KEY: E2E_API_KEY, ...env }),
    30_000,
  );
  return {
    code: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    json<T>() {
      try {
        return JSON.parse(result.stdout) as T;
      } catch {
        throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      }
    },
  };
}

async function publish(url: string, type: string, recipient: string, extra: Record<string, unknown> = {}) {
  const res = await api<{ id: string }>(url, '/v1/events', {
    method: 'POST',
    body: { type, data: { recipient, ...extra } },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;

describe('mailhook management commands against a running server', () => {
  let srv: ServerProcess;
  let receiver: Receiver;
  beforeAll(async () => {
    [srv, receiver] = await Promise.all([server(), startReceiver({ secrets: [secret] })]);
  });
  afterAll(async () => {
    await receiver.close();
    await srv.stop();
  });

  it('sources: add, list, show, setup, rm, with exit codes for each failure', async () => {
    const added = await mh(srv.url, [
      'sources',
      'add',
      '--name',
      'Resend prod',
      '--provider',
      'resend',
      '--set',
      `secret=${secret}`,
      '--json',
    ]);
    expect(added.code).toBe(0);
    const source = added.json<{ id: string; ingest_url: string; config_keys: string[]; setup: string }>();
    expect(source).toMatchObject({ id: expect.stringMatching(/^src_/), config_keys: ['secret'] });
    expect(source.ingest_url).toBe(`${srv.url}/ingest/${source.id}`);
    expect(added.stdout).not.toContain(secret);

    const list = await mh(srv.url, ['sources', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(list.json<{ data: Array<{ id: string }> }>().data.map((s) => s.id)).toContain(source.id);
    const table = await mh(srv.url, ['sources', 'list']);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+PROVIDER/);
    expect(table.stdout).toContain(source.id);

    const shown = await mh(srv.url, ['sources', 'show', source.id, '--json']);
    expect(shown.json()).toMatchObject({ id: source.id, name: 'Resend prod', provider: 'resend' });

    const sg = (
      await mh(srv.url, ['sources', 'add', '--name', 'SG', '--provider', 'sendgrid', '--json'])
    ).json<{ id: string }>();
    const setup = await mh(srv.url, ['sources', 'setup', sg.id, '--json']);
    expect(setup.code).toBe(0);
    expect(setup.json()).toMatchObject({
      id: sg.id,
      config_keys: [],
      setup: expect.stringContaining(`/ingest/${sg.id}`),
    });
    const badKey = await mh(srv.url, ['sources', 'setup', sg.id, '--set', 'public_key=not-a-key']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('MH_ERR_INVALID_SOURCE_CONFIG');
    const disabled = await mh(srv.url, ['sources', 'setup', sg.id, '--disable', '--json']);
    expect(disabled.code).toBe(0);
    expect((await api<{ enabled: boolean }>(srv.url, `/v1/sources/${sg.id}`)).body.enabled).toBe(false);

    expect((await mh(srv.url, ['sources', 'rm', sg.id, '--json'])).json()).toEqual({
      id: sg.id,
      deleted: true,
    });
    const gone = await mh(srv.url, ['sources', 'show', sg.id, '--json']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('MH_ERR_SOURCE_NOT_FOUND');

    expect((await mh(srv.url, ['sources', 'add', '--name', 'x', '--provider', 'carrier-pigeon'])).code).toBe(
      2,
    );
    expect((await mh(srv.url, ['sources', 'add', '--name', 'x'])).code).toBe(2);
    expect((await mh(srv.url, ['sources', 'list', '--bogus'])).code).toBe(2);
    expect((await mh(srv.url, ['sources', 'frobnicate'])).code).toBe(2);
    const unauthorized = await mh(srv.url, ['sources', 'list'], {
      MAILHOOK_API_KEY: 'wrong-key-0123456789abcdef',
    });
    expect(unauthorized.code).toBe(4);
    expect(unauthorized.stderr).toContain('MH_ERR_UNAUTHORIZED');
    const flagsWin = await mh(
      'http://127.0.0.1:1',
      ['sources', 'list', '--url', srv.url, '--key', E2E_API_KEY],
      {
        MAILHOOK_API_KEY: undefined,
      },
    );
    expect(flagsWin.code).toBe(0);
    const noKey = await mh(srv.url, ['sources', 'list'], { MAILHOOK_API_KEY: undefined });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('no API key: set MAILHOOK_API_KEY or pass --key');
    expect(noKey.stderr).not.toContain('Bearer');
    const unreachable = await mh(`http://127.0.0.1:${await freePort()}`, ['sources', 'list']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach mailhook');
  }, 90_000);

  it('--help works everywhere, with examples', async () => {
    const top = await mh(srv.url, ['--help']);
    expect(top.code).toBe(0);
    for (const command of [
      'sources',
      'endpoints',
      'events',
      'deliveries',
      'replay',
      'suppressions',
      'keys',
      'apply',
    ]) {
      expect(top.stdout).toContain(`  ${command}`);
    }
    const resource = await mh(srv.url, ['endpoints', '--help']);
    expect(resource.code).toBe(0);
    expect(resource.stdout).toContain('pause');
    const sub = await mh(srv.url, ['events', 'tail', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Examples:');
    expect(sub.stdout).toContain('Exit codes');
    expect((await mh(srv.url, ['replay', '--help'])).stdout).toContain('Examples:');
    expect((await mh(srv.url, ['keys'])).code).toBe(2);
  }, 60_000);

  it('endpoints and deliveries: add, test, pause, resume, list, show, retry, rm', async () => {
    const added = await mh(srv.url, [
      'endpoints',
      'add',
      `${receiver.url}/cli`,
      '--events',
      'email.bounced,email.delivered',
      '--secret',
      secret,
      '--header',
      'x-tenant=acme',
      '--description',
      'cli receiver',
      '--json',
    ]);
    expect(added.code).toBe(0);
    const endpoint = added.json<{
      id: string;
      secret: string;
      event_types: string[];
      headers: Record<string, string>;
    }>();
    // Header names only: the value is shown on an explicit reveal.
    expect(endpoint).toMatchObject({
      secret,
      event_types: ['email.bounced', 'email.delivered'],
      headers: { 'x-tenant': '[redacted]' },
    });
    expect(added.stdout).not.toContain('acme');

    expect(
      (await mh(srv.url, ['endpoints', 'list', '--json']))
        .json<{ data: Array<{ id: string }> }>()
        .data.map((e) => e.id),
    ).toContain(endpoint.id);
    const shown = (await mh(srv.url, ['endpoints', 'show', endpoint.id, '--json'])).json<{
      endpoint: { id: string };
      health: { endpoint_id: string };
    }>();
    expect(shown.endpoint.id).toBe(endpoint.id);
    expect(shown.health.endpoint_id).toBe(endpoint.id);
    expect(JSON.stringify(shown)).not.toContain('acme');
    const text = await mh(srv.url, ['endpoints', 'show', endpoint.id]);
    expect(text.stdout).toMatch(/headers:\s+x-tenant \(values hidden/);
    expect(text.stdout).not.toContain('acme');
    const revealed = await mh(srv.url, ['endpoints', 'show', endpoint.id, '--reveal-headers', '--json']);
    expect(revealed.json()).toMatchObject({
      endpoint: { headers: { 'x-tenant': '[redacted]' } },
      headers: { 'x-tenant': 'acme' },
    });
    expect((await mh(srv.url, ['endpoints', 'show', endpoint.id, '--reveal-headers'])).stdout).toMatch(
      /headers:\s+\{"x-tenant":"acme"\}/,
    );

    const tested = (
      await mh(srv.url, ['endpoints', 'test', endpoint.id, '--type', 'email.bounced', '--json'])
    ).json<{ delivery_id: string; event: { id: string } }>();
    const first = await waitFor('the test delivery', async () => receiver.byId(tested.event.id)[0]);
    expect(verifiedByBoth(first)).toBe(true);
    expect(first.headers['x-tenant']).toBe('acme');

    const paused = await mh(srv.url, ['endpoints', 'pause', endpoint.id, '--json']);
    expect(paused.json()).toMatchObject({ id: endpoint.id, status: 'paused' });
    expect((await mh(srv.url, ['endpoints', 'resume', endpoint.id, '--json'])).json()).toMatchObject({
      status: 'active',
    });

    const deliveries = await waitFor('the delivery to succeed', async () => {
      const page = (await mh(srv.url, ['deliveries', 'list', '--endpoint', endpoint.id, '--json'])).json<{
        data: Array<{ id: string; status: string }>;
      }>();
      return page.data.some((d) => d.status === 'succeeded') ? page.data : undefined;
    });
    expect(deliveries.map((d) => d.id)).toContain(tested.delivery_id);
    const detail = (await mh(srv.url, ['deliveries', 'show', tested.delivery_id, '--json'])).json<{
      attempts: Array<{ http_status: number }>;
    }>();
    expect(detail.attempts[0]?.http_status).toBe(200);

    const retried = await mh(srv.url, ['deliveries', 'retry', tested.delivery_id, '--json']);
    expect(retried.code).toBe(0);
    await waitFor('the retried attempt', async () =>
      receiver.byId(tested.event.id).length >= 2 ? true : undefined,
    );
    expect((await mh(srv.url, ['deliveries', 'retry', 'dlv_nope'])).code).toBe(3);
    expect(
      (await mh(srv.url, ['deliveries', 'list', '--endpoint', endpoint.id, '--status', 'lost'])).code,
    ).toBe(2);

    const refused = await mh(srv.url, ['endpoints', 'add', 'ftp://example.com/', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('MH_ERR_ENDPOINT_URL_REFUSED');
    expect((await mh(srv.url, ['endpoints', 'rm', endpoint.id])).code).toBe(0);
    expect((await mh(srv.url, ['endpoints', 'show', endpoint.id])).code).toBe(3);
  }, 90_000);

  it('events: list with filters, show, and tail prints new events as they arrive', async () => {
    const bounced = await publish(srv.url, 'email.bounced', 'ev-list@example.com', {
      bounce: { type: 'hard', code: '5.1.1', reason: 'x' },
    });
    await publish(srv.url, 'email.delivered', 'ev-list@example.com');
    const list = (
      await mh(srv.url, [
        'events',
        'list',
        '--recipient',
        'ev-list@example.com',
        '--type',
        'email.bounced',
        '--json',
      ])
    ).json<{ data: Array<{ id: string }>; next_cursor: string | null }>();
    expect(list.data.map((e) => e.id)).toEqual([bounced.id]);
    const page = (
      await mh(srv.url, ['events', 'list', '--recipient', 'ev-list@example.com', '--limit', '1', '--json'])
    ).json<{ next_cursor: string | null }>();
    expect(page.next_cursor).toEqual(expect.any(String));
    expect((await mh(srv.url, ['events', 'show', bounced.id, '--json'])).json()).toMatchObject({
      id: bounced.id,
      type: 'email.bounced',
    });
    expect((await mh(srv.url, ['events', 'show', 'evt_nope'])).code).toBe(3);
    expect((await mh(srv.url, ['events', 'list', '--since', 'yesterday-ish'])).code).toBe(2);

    // An event published before the tail starts is not "new"; the two after it are.
    await publish(srv.url, 'email.clicked', 'before-tail@example.com');
    const tail = spawnCli(
      ['events', 'tail', '--type', 'email.clicked', '--json', '--count', '2', '--interval', '200'],
      childEnv({ MAILHOOK_URL: srv.url, MAILHOOK_API_KEY: E2E_API_KEY }),
    );
    await waitFor('tail to follow', async () => (tail.stderr().includes('following') ? true : undefined));
    const a = await publish(srv.url, 'email.clicked', 'tail-a@example.com');
    await publish(srv.url, 'email.opened', 'not-a-click@example.com');
    const b = await publish(srv.url, 'email.clicked', 'tail-b@example.com');
    const exit = await tail.exited;
    expect(exit.code).toBe(0);
    const lines = tail
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string });
    expect(lines.map((e) => e.id)).toEqual([a.id, b.id]);

    // Ctrl-C ends a tail cleanly.
    const endless = spawnCli(
      ['events', 'tail'],
      childEnv({ MAILHOOK_URL: srv.url, MAILHOOK_API_KEY: E2E_API_KEY }),
    );
    await waitFor('tail to follow', async () => (endless.stderr().includes('following') ? true : undefined));
    signal(endless, 'SIGINT');
    expect((await endless.exited).code).toBe(0);
  }, 90_000);

  it('replay sends a time range to an endpoint and waits for the end', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await publish(srv.url, 'email.delivered', `replay-${i}@example.com`)).id);
    const endpoint = (
      await mh(srv.url, [
        'endpoints',
        'add',
        `${receiver.url}/replay`,
        '--secret',
        secret,
        '--events',
        'email.delivered',
        '--json',
      ])
    ).json<{ id: string }>();
    const replay = await mh(srv.url, ['replay', '--endpoint', endpoint.id, '--since', since, '--json']);
    expect(replay.code).toBe(0);
    const done = replay.json<{ status: string; scanned: number; enqueued: number }>();
    expect(done.status).toBe('done');
    expect(done.enqueued).toBeGreaterThanOrEqual(3);
    expect(replay.stderr).not.toContain('%'); // no progress bar when stderr is not a terminal
    await waitFor('the replayed events', async () =>
      ids.every((id) => receiver.byId(id).some((r) => r.path.endsWith('/replay'))) ? true : undefined,
    );
    const detached = await mh(srv.url, ['replay', endpoint.id, '--since', since, '--no-wait', '--json']);
    expect(detached.json()).toMatchObject({ id: expect.stringMatching(/^rpl_/), endpoint_id: endpoint.id });
    expect((await mh(srv.url, ['replay', '--endpoint', endpoint.id, '--since', 'last week'])).code).toBe(2);
    expect((await mh(srv.url, ['replay', '--endpoint', 'ep_nope', '--since', since])).code).toBe(3);
    expect((await mh(srv.url, ['replay', '--since', since])).code).toBe(2);
  }, 90_000);

  it('suppressions: check, add, rm, export', async () => {
    await publish(srv.url, 'email.bounced', 'hard@example.com', {
      bounce: { type: 'hard', code: '5.1.1', reason: 'gone' },
    });
    const one = (await mh(srv.url, ['suppressions', 'check', 'Hard@Example.com', '--json'])).json<{
      email: string;
      suppressed: boolean;
      reasons: Array<{ reason: string }>;
    }>();
    expect(one).toMatchObject({ email: 'hard@example.com', suppressed: true });
    expect(one.reasons.map((r) => r.reason)).toEqual(['hard_bounce']);
    const many = (
      await mh(srv.url, ['suppressions', 'check', 'hard@example.com', 'fine@example.com', '--json'])
    ).json<{ data: Array<{ email: string; suppressed: boolean }> }>();
    expect(many.data.map((a) => [a.email, a.suppressed])).toEqual([
      ['hard@example.com', true],
      ['fine@example.com', false],
    ]);

    const added = await mh(srv.url, [
      'suppressions',
      'add',
      'manual@example.com',
      '--detail',
      'asked by phone',
      '--json',
    ]);
    expect(added.json()).toMatchObject({ email: 'manual@example.com', suppressed: true });
    const csv = await mh(srv.url, ['suppressions', 'export']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')[0]).toBe('email,scope,reason,detail,event_id,source_id,created_at');
    expect(csv.stdout).toContain('manual@example.com,global,manual,asked by phone');
    const exported = (await mh(srv.url, ['suppressions', 'export', '--json'])).json<{
      data: Array<{ email: string }>;
    }>();
    expect(exported.data.map((e) => e.email)).toEqual(
      expect.arrayContaining(['hard@example.com', 'manual@example.com']),
    );

    const removed = (await mh(srv.url, ['suppressions', 'rm', 'manual@example.com', '--json'])).json();
    expect(removed).toMatchObject({ removed: 1, suppressed: false });
    expect((await mh(srv.url, ['suppressions', 'check'])).code).toBe(2);
  }, 90_000);

  it('keys: create shows the key once, list marks the caller, revoke locks the key out', async () => {
    const created = (await mh(srv.url, ['keys', 'create', '--name', 'ci', '--json'])).json<{
      id: string;
      key: string;
    }>();
    expect(created.key).toMatch(/^mh_/);
    const asCi = await mh(srv.url, ['keys', 'list', '--json'], { MAILHOOK_API_KEY: created.key });
    expect(asCi.code).toBe(0);
    const listed = asCi.json<{ data: Array<{ id: string; name: string; current: boolean }> }>().data;
    expect(listed.find((k) => k.id === created.id)?.current).toBe(true);
    expect(asCi.stdout).not.toContain(created.key);

    // A key never used yet, so no server cache can still hold it.
    const spare = (await mh(srv.url, ['keys', 'create', '--name', 'spare', '--json'])).json<{
      id: string;
      key: string;
    }>();
    expect((await mh(srv.url, ['keys', 'revoke', spare.id, '--json'])).json()).toEqual({
      id: spare.id,
      revoked: true,
    });
    expect((await mh(srv.url, ['sources', 'list'], { MAILHOOK_API_KEY: spare.key })).code).toBe(4);
    expect((await mh(srv.url, ['keys', 'revoke', spare.id])).code).toBe(3);

    // Revoking the key the command runs with needs --yes; without it the key keeps working.
    const asCiEnv = { MAILHOOK_API_KEY: created.key };
    const unconfirmed = await mh(srv.url, ['keys', 'revoke', created.id], asCiEnv);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('is the key this command runs with');
    expect(unconfirmed.stderr).toContain('--yes');
    expect((await mh(srv.url, ['sources', 'list'], asCiEnv)).code).toBe(0);
    const confirmed = await mh(srv.url, ['keys', 'revoke', created.id, '--yes', '--json'], asCiEnv);
    expect(confirmed.code).toBe(0);
    expect((await mh(srv.url, ['sources', 'list'], asCiEnv)).code).toBe(4);
  }, 60_000);
});

describe('mailhook apply', () => {
  let srv: ServerProcess;
  let dir: string;
  beforeAll(async () => {
    srv = await server();
    dir = tempDataDir();
    dirs.push(dir);
  });
  afterAll(async () => srv.stop());

  function file(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  }

  const declaration = (url: string) => ({
    sources: [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: apply expands ${VAR} from the environment itself
      { name: 'Resend prod', provider: 'resend', config: { secret: '${RESEND_SECRET}' } },
      {
        name: 'Mailgun',
        provider: 'mailgun',
        config: { signing_key: 'key-0123456789abcdef' },
        enabled: false,
      },
    ],
    endpoints: [
      {
        name: 'crm',
        url: `${url}/crm`,
        event_types: ['email.bounced'],
        filter: { tags: ['welcome'] },
        max_concurrency: 5,
      },
      { name: 'audit', url: `${url}/audit`, secret, status: 'paused' },
    ],
  });

  it('creates what is declared, changes nothing the second time, updates and prunes on request', async () => {
    const env = { RESEND_SECRET: secret };
    const path = file('mailhook.json', declaration('http://127.0.0.1:9'));

    const plan = await mh(srv.url, ['apply', '-f', path, '--dry-run', '--json'], env);
    expect(plan.code).toBe(0);
    expect(plan.json()).toMatchObject({
      dry_run: true,
      counts: { create: 4, update: 0, delete: 0, unchanged: 0 },
    });
    expect((await api<{ data: unknown[] }>(srv.url, '/v1/sources')).body.data).toEqual([]);

    const applied = await mh(srv.url, ['apply', '-f', path, '--json'], env);
    expect(applied.code).toBe(0);
    const first = applied.json<{
      counts: Record<string, number>;
      actions: Array<{ name: string; id: string; secret?: string }>;
    }>();
    expect(first.counts).toEqual({ create: 4, update: 0, delete: 0, unchanged: 0 });
    expect(first.actions.find((a) => a.name === 'crm')?.secret).toMatch(/^whsec_/);
    expect(first.actions.find((a) => a.name === 'audit')?.secret).toBeUndefined();
    const endpoints = (
      await api<{
        data: Array<{ description: string; status: string; max_concurrency: number; updated_at: string }>;
      }>(srv.url, '/v1/endpoints')
    ).body.data;
    expect(endpoints.find((e) => e.description === 'audit')?.status).toBe('paused');
    expect(endpoints.find((e) => e.description === 'crm')?.max_concurrency).toBe(5);
    const sources = (
      await api<{ data: Array<{ name: string; enabled: boolean; config_keys: string[] }> }>(
        srv.url,
        '/v1/sources',
      )
    ).body.data;
    expect(sources.find((s) => s.name === 'Mailgun')).toMatchObject({
      enabled: false,
      config_keys: ['signing_key'],
    });

    const again = await mh(srv.url, ['apply', '-f', path, '--json'], env);
    expect(again.json()).toMatchObject({ counts: { create: 0, update: 0, delete: 0, unchanged: 4 } });
    const after = (await api<{ data: Array<{ updated_at: string }> }>(srv.url, '/v1/endpoints')).body.data;
    expect(after.map((e) => e.updated_at)).toEqual(endpoints.map((e) => e.updated_at));

    const changed = declaration('http://127.0.0.1:9');
    changed.endpoints[0] = {
      ...changed.endpoints[0],
      event_types: ['email.bounced', 'email.complained'],
    } as (typeof changed.endpoints)[0];
    changed.endpoints[1] = { ...changed.endpoints[1], status: 'active' } as (typeof changed.endpoints)[1];
    changed.sources.pop();
    const path2 = file('changed.json', changed);
    const update = await mh(srv.url, ['apply', '-f', path2, '--prune', '--json'], env);
    expect(update.code).toBe(0);
    expect(update.json()).toMatchObject({ counts: { create: 0, update: 2, delete: 1, unchanged: 1 } });
    expect(
      (await api<{ data: Array<{ name: string }> }>(srv.url, '/v1/sources')).body.data.map((s) => s.name),
    ).toEqual(['Resend prod']);
    const audit = (
      await api<{ data: Array<{ description: string; status: string }> }>(srv.url, '/v1/endpoints')
    ).body.data.find((e) => e.description === 'audit');
    expect(audit?.status).toBe('active');
    expect((await mh(srv.url, ['apply', '-f', path2, '--json'], env)).json()).toMatchObject({
      counts: { unchanged: 3 },
    });
  }, 90_000);

  it('compares header values through the reveal call: a changed value is updated, an unchanged one left alone', async () => {
    const headersOf = async (id: string) =>
      (await api<{ headers: Record<string, string> }>(srv.url, `/v1/endpoints/${id}/headers`)).body.headers;
    const declare = (tenant: string) =>
      file('headers.json', {
        endpoints: [
          {
            name: 'with headers',
            url: 'http://127.0.0.1:9/headers',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: apply expands ${VAR} from the environment itself
            headers: { 'X-Tenant': tenant, authorization: '${RECEIVER_TOKEN}' },
          },
        ],
      });
    const env = { RECEIVER_TOKEN: 'Bearer receiver-token-1' };
    const created = await mh(srv.url, ['apply', '-f', declare('acme'), '--json'], env);
    expect(created.json()).toMatchObject({ counts: { create: 1 } });
    const id = created.json<{ actions: Array<{ id: string }> }>().actions[0]?.id ?? '';
    expect(await headersOf(id)).toEqual({ 'x-tenant': 'acme', authorization: 'Bearer receiver-token-1' });
    const before = (await api<{ updated_at: string }>(srv.url, `/v1/endpoints/${id}`)).body.updated_at;

    // Unchanged: nothing is sent, not even the values the API masks.
    const again = await mh(srv.url, ['apply', '-f', declare('acme'), '--json'], env);
    expect(again.json()).toMatchObject({ counts: { create: 0, update: 0, unchanged: 1 } });
    expect((await api<{ updated_at: string }>(srv.url, `/v1/endpoints/${id}`)).body.updated_at).toBe(before);

    // A changed value, of an ordinary header or of a credential-like one, is seen and applied.
    const tenant = await mh(srv.url, ['apply', '-f', declare('globex'), '--dry-run', '--json'], env);
    expect(tenant.json()).toMatchObject({ counts: { update: 1 }, actions: [{ changes: ['headers'] }] });
    expect(tenant.stdout).not.toContain('receiver-token');
    await mh(srv.url, ['apply', '-f', declare('globex'), '--json'], env);
    expect((await headersOf(id))['x-tenant']).toBe('globex');
    const rotated = { RECEIVER_TOKEN: 'Bearer receiver-token-2' };
    const token = await mh(srv.url, ['apply', '-f', declare('globex'), '--json'], rotated);
    expect(token.json()).toMatchObject({ counts: { update: 1 } });
    expect(await headersOf(id)).toEqual({ 'x-tenant': 'globex', authorization: 'Bearer receiver-token-2' });
    expect((await mh(srv.url, ['apply', '-f', declare('globex'), '--json'], rotated)).json()).toMatchObject({
      counts: { update: 0, unchanged: 1 },
    });
  }, 60_000);

  it('refuses what it cannot apply, as usage errors', async () => {
    const path = file('env.json', declaration('http://127.0.0.1:9'));
    const missingEnv = await mh(srv.url, ['apply', '-f', path], { RESEND_SECRET: undefined });
    expect(missingEnv.code).toBe(2);
    expect(missingEnv.stderr).toContain('RESEND_SECRET');
    const yaml = await mh(srv.url, ['apply', '-f', file('broken.yaml', 'sources: [\n')]);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toContain('not valid YAML');
    expect(
      (await mh(srv.url, ['apply', '-f', file('typo.json', { sources: [{ name: 'x', provder: 'resend' }] })]))
        .code,
    ).toBe(2);
    expect((await mh(srv.url, ['apply', '-f', file('bad.json', '{"sources": [')])).code).toBe(2);
    expect((await mh(srv.url, ['apply'])).code).toBe(2);
  }, 60_000);
});

describe('mailhook verify', () => {
  const vectors = join(REPO_ROOT, 'test', 'fixtures', 'vectors');
  const sendgrid = JSON.parse(readFileSync(join(vectors, 'sendgrid', 'vector-nodejs-sdk.json'), 'utf8')) as {
    public_key_base64_spki_der: string;
    headers: Record<string, string>;
    body: string;
  };
  let dir: string;
  beforeAll(() => {
    dir = tempDataDir();
    dirs.push(dir);
  });

  const verify = (args: string[]) => runCli(['verify', ...args], childEnv({}), 30_000);

  it('accepts a request signed as the provider signs, and says exactly why a tampered one fails', async () => {
    const body = join(dir, 'sendgrid.json');
    writeFileSync(body, sendgrid.body);
    const headers = Object.entries(sendgrid.headers).flatMap(([name, value]) => [
      '--header',
      `${name}: ${value}`,
    ]);
    const key = ['--set', `public_key=${sendgrid.public_key_base64_spki_der}`];
    // The official vector is from 2020: its freshness is checked as of its own time.
    const ok = await verify([
      '--provider',
      'sendgrid',
      ...key,
      ...headers,
      '--body',
      body,
      '--at',
      '1588788367',
      '--json',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ verified: true, parsed: true });

    const stale = await verify(['--provider', 'sendgrid', ...key, ...headers, '--body', body]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/not verified \(SendGrid\): .*(timestamp|old|tolerance)/i);
    expect(
      (await verify(['--provider', 'sendgrid', ...key, ...headers, '--body', body, '--tolerance', '0'])).code,
    ).toBe(0);

    writeFileSync(body, sendgrid.body.replace('example_payload', 'tampered'));
    const tampered = await verify([
      '--provider',
      'sendgrid',
      ...key,
      ...headers,
      '--body',
      body,
      '--tolerance',
      '0',
      '--json',
    ]);
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toEqual({
      verified: false,
      reason: expect.stringMatching(/signature/i),
    });
  }, 60_000);

  it('checks a mailhook delivery with the endpoint secret (Standard Webhooks)', async () => {
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const payload = JSON.stringify({
      type: 'email.delivered',
      timestamp: new Date().toISOString(),
      data: { recipient: 'a@example.com' },
    });
    const mac = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
      .update(`${id}.${timestamp}.${payload}`)
      .digest('base64');
    const headersFile = join(dir, 'headers.txt');
    writeFileSync(
      headersFile,
      `HTTP/1.1 200 OK\nwebhook-id: ${id}\nwebhook-timestamp: ${timestamp}\nwebhook-signature: v1,${mac}\n`,
    );
    const body = join(dir, 'delivery.json');
    writeFileSync(body, payload);
    const ok = await verify([
      '--provider',
      'standard',
      '--secret',
      secret,
      '--headers',
      headersFile,
      '--body',
      body,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('email.delivered');
    const wrong = await verify([
      '--provider',
      'standard',
      '--secret',
      `whsec_${Buffer.alloc(24, 9).toString('base64')}`,
      '--headers',
      headersFile,
      '--body',
      body,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('not verified');
    expect((await verify(['--provider', 'carrier-pigeon', '--body', body])).code).toBe(2);
    expect((await verify(['--provider', 'standard', '--secret', 'nope', '--body', body])).code).toBe(2);
  }, 60_000);
});
