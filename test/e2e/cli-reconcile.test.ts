import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  childEnv,
  E2E_API_KEY,
  killAll,
  removeDir,
  runCli,
  type ServerProcess,
  signal,
  spawnCli,
  startServer,
  tempDataDir,
  waitFor,
  withTimeout,
} from '../helpers/process.js';
import { FakeMailgunEventsApi } from '../unit/reconcile/mailgun-fake-api.js';

/**
 * `mailhook reconcile` as a user runs it: a real server reading a Mailgun source's events back from a
 * local stand-in for Mailgun's Events API, driven by real `mailhook` processes and checked by their
 * output and exit codes.
 */

const SIGNING_KEY = 'mailgun-signing-key-for-cli-reconcile-01';
const API_KEY = 'key-cli-reconcile-0123456789abcdef01';
const WRONG_KEY = 'key-wrong-cli-reconcile-000000000000';
const DOMAIN = 'sample.mailgun.com';

/** Documented Mailgun events: five email events and one list event mailhook does not map (skipped). */
const EMAIL_FIXTURES = ['delivered', 'opened', 'clicked', 'complained', 'failed-permanent-bounce'];
const SKIPPED_FIXTURE = 'list-member-uploaded';

/**
 * The fixture's `event-data`, moved into the last hour: Mailgun's API keeps a day (the reader clips
 * older windows), and the fixtures happened in February 2026.
 */
function recentEventData(name: string, minutesAgo: number): Record<string, unknown> {
  const text = readFileSync(new URL(`../fixtures/mailgun/${name}.json`, import.meta.url), 'utf8');
  const eventData = (JSON.parse(text) as { 'event-data': Record<string, unknown> })['event-data'];
  return { ...eventData, timestamp: Math.floor(Date.now() / 1000) - minutesAgo * 60 + 0.25 };
}

function signedWebhook(eventData: Record<string, unknown>): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', SIGNING_KEY)
    .update(timestamp + token)
    .digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs `mailhook <args>` against `url` with the admin key. */
async function mh(url: string, args: string[]): Promise<Run> {
  const result = await runCli(args, childEnv({ MAILHOOK_URL: url, MAILHOOK_API_KEY: E2E_API_KEY }), 15_000);
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

interface Job {
  id: string;
  source_id: string;
  trigger: string;
  status: string;
  pages: number;
  found: number;
  new: number;
  duplicates: number;
  skipped: number;
  error?: string;
}

/**
 * A pass-through to the fake that holds every request until `release()`: the job stays running for
 * as long as the test needs, without guessing how long that is.
 */
async function startGate(target: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrived = () => {};
  const firstArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const server: Server = createServer((req, res) => {
    arrived();
    void released
      .then(() =>
        fetch(`${target}${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } }),
      )
      .then(async (answer) => {
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
        res.end(await answer.text());
      })
      .catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    firstArrived,
    release,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('mailhook reconcile against a running server and a fake Mailgun Events API', () => {
  let srv: ServerProcess;
  let fake: FakeMailgunEventsApi;
  let dir: string;
  const since = new Date(Date.now() - 2 * 3600_000).toISOString();
  const items = [
    ...EMAIL_FIXTURES.map((name, i) => recentEventData(name, 60 - i * 5)),
    recentEventData(SKIPPED_FIXTURE, 30),
  ];
  const emailIds = items.slice(0, EMAIL_FIXTURES.length).map((item) => String(item.id));

  async function mailgunSource(name: string, config: Record<string, unknown>): Promise<string> {
    const res = await api<{ id: string }>(srv.url, '/v1/sources', {
      method: 'POST',
      body: { name, provider: 'mailgun', config: { signing_key: SIGNING_KEY, ...config } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  beforeAll(async () => {
    dir = tempDataDir();
    [srv, fake] = await Promise.all([
      startServer({ dataDir: dir, env: { MAILHOOK_LOG_LEVEL: 'warn' } }),
      FakeMailgunEventsApi.start({ apiKey: API_KEY, domain: DOMAIN }),
    ]);
    // Two pages of items, then the empty page that ends the range: three pages read.
    fake.pages = [
      items.slice(0, 3).map((i) => JSON.stringify(i)),
      items.slice(3).map((i) => JSON.stringify(i)),
    ];
  });

  afterAll(async () => {
    await killAll();
    await srv?.stop();
    await fake?.close();
    if (dir) removeDir(dir);
  });

  it('recovers the events the webhook never brought, then finds only duplicates, and lists both runs', async () => {
    const sourceId = await mailgunSource('mailgun with API', {
      api_key: API_KEY,
      api_base_url: fake.baseUrl,
      domain: DOMAIN,
    });
    // The webhook did bring one of them: reconciliation must count it as a duplicate, not store it twice.
    const ingest = await fetch(`${srv.url}/ingest/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: signedWebhook(items[0] as Record<string, unknown>),
    });
    expect(ingest.status).toBe(200);
    await waitFor('the webhook event to be stored', async () => {
      const page = await api<{ data: unknown[] }>(srv.url, `/v1/events?source_id=${sourceId}`);
      return page.body.data.length === 1 ? true : undefined;
    });

    const first = await mh(srv.url, [
      'reconcile',
      '--source',
      sourceId,
      '--since',
      since,
      '--json',
      '--interval',
      '50',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const firstJob = first.json<Job>();
    expect(firstJob).toMatchObject({
      id: expect.stringMatching(/^rec_/),
      source_id: sourceId,
      trigger: 'api',
      status: 'done',
      pages: 3,
      found: 5,
      new: 4,
      duplicates: 1,
      skipped: 1,
    });
    expect(firstJob.error).toBeUndefined();
    expect(fake.requests[0]?.authorization).toBe(`Basic ${Buffer.from(`api:${API_KEY}`).toString('base64')}`);

    const listed = await mh(srv.url, ['events', 'list', '--source', sourceId, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const events = listed.json<{
      data: Array<{ data: { provider_event_id: string; received_via: string } }>;
    }>();
    const via = new Map(events.data.map((e) => [e.data.provider_event_id, e.data.received_via]));
    expect(events.data, 'each event stored once').toHaveLength(5);
    expect(Object.fromEntries(via)).toEqual({
      [emailIds[0] as string]: 'webhook',
      ...Object.fromEntries(emailIds.slice(1).map((id) => [id, 'api'])),
    });

    // Again, as a person reads it: everything is already stored.
    const second = await mh(srv.url, ['reconcile', sourceId, '--since', since, '--interval', '50']);
    expect(second.code, second.stderr).toBe(0);
    const line = /^reconciliation (rec_\w+) done: 3 pages, 5 found, 0 new, 5 duplicates, 1 skipped\n$/.exec(
      second.stdout,
    );
    expect(line, second.stdout).not.toBeNull();
    const secondId = line?.[1] as string;
    expect(
      (await api<{ data: unknown[] }>(srv.url, `/v1/events?source_id=${sourceId}`)).body.data,
    ).toHaveLength(5);

    const jobs = await mh(srv.url, ['reconcile', '--source', sourceId, '--list', '--json']);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.json<{ data: Job[] }>().data.map((j) => [j.id, j.status, j.new])).toEqual([
      [secondId, 'done', 0],
      [firstJob.id, 'done', 4],
    ]);
    const tableRun = await mh(srv.url, ['reconcile', '--source', sourceId, '--list']);
    expect(tableRun.code, tableRun.stderr).toBe(0);
    const rows = tableRun.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(
      /^ID\s+TRIGGER\s+STATUS\s+SINCE\s+UNTIL\s+PAGES\s+FOUND\s+NEW\s+DUPLICATES\s+SKIPPED\s+ERROR$/,
    );
    expect(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 3))).toEqual([
      [secondId, 'api', 'done'],
      [firstJob.id, 'api', 'done'],
    ]);
  });

  it('refuses a provider without an event API and a source without an API key, with exit code 2', async () => {
    const sendgrid = await api<{ id: string }>(srv.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'sendgrid', provider: 'sendgrid' },
    });
    expect(sendgrid.status).toBe(201);
    const unsupported = await mh(srv.url, ['reconcile', '--source', sendgrid.body.id, '--since', since]);
    expect(unsupported.code).toBe(2);
    expect(unsupported.stdout).toBe('');
    expect(unsupported.stderr).toContain(
      'mailhook reconcile: MH_ERR_RECONCILE_UNSUPPORTED: sendgrid has no event API mailhook can read',
    );

    const webhookOnly = await mailgunSource('mailgun webhook only', {});
    const notConfigured = await mh(srv.url, ['reconcile', '--source', webhookOnly, '--since', since]);
    expect(notConfigured.code).toBe(2);
    expect(notConfigured.stderr).toContain('MH_ERR_RECONCILE_NOT_CONFIGURED');

    const unknown = await mh(srv.url, ['reconcile', '--source', 'src_nope', '--since', since]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('MH_ERR_SOURCE_NOT_FOUND');

    // Checked before any request.
    const badTime = await mh(srv.url, ['reconcile', '--source', webhookOnly, '--since', 'yesterday']);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('--since must be an ISO 8601 date-time or Unix seconds');
    const missing = await mh(srv.url, ['reconcile', '--source', webhookOnly]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--source and --since are required');
  });

  it('exits 1 with the reason on stderr when Mailgun refuses the API key', async () => {
    const sourceId = await mailgunSource('mailgun wrong key', {
      api_key: WRONG_KEY,
      api_base_url: fake.baseUrl,
      domain: DOMAIN,
    });
    const before = fake.requests.length;
    const run = await mh(srv.url, [
      'reconcile',
      '--source',
      sourceId,
      '--since',
      since,
      '--json',
      '--interval',
      '50',
    ]);
    expect(run.code).toBe(1);
    const job = run.json<Job>();
    expect(job).toMatchObject({ status: 'failed', found: 0, new: 0 });
    expect(job.error).toContain('mailgun refused the API key (HTTP 401)');
    expect(run.stderr).toContain(
      `mailhook reconcile: reconciliation ${job.id} failed: mailgun refused the API key (HTTP 401)`,
    );
    expect(run.stderr + run.stdout).not.toContain(WRONG_KEY);
    // The refusal came from the API, with the key the source holds.
    expect(fake.requests.slice(before).map((r) => r.authorization)).toEqual([
      `Basic ${Buffer.from(`api:${WRONG_KEY}`).toString('base64')}`,
    ]);
  });

  it('refuses a second run while one is running (naming it), and Ctrl-C stops watching while the job goes on', async () => {
    const gate = await startGate(fake.baseUrl);
    // The fake's page URLs must stay on the origin the source reads from.
    fake.pageOrigin = gate.baseUrl;
    try {
      const sourceId = await mailgunSource('mailgun held', {
        api_key: API_KEY,
        api_base_url: gate.baseUrl,
        domain: DOMAIN,
      });
      const env = childEnv({ MAILHOOK_URL: srv.url, MAILHOOK_API_KEY: E2E_API_KEY });
      const watcher = spawnCli(
        ['reconcile', '--source', sourceId, '--since', since, '--json', '--interval', '50'],
        env,
      );
      // The runner is reading the job's first page, which the gate holds.
      await withTimeout(gate.firstArrived, 10_000, 'the first Events API request');
      const running = await api<{ data: Job[] }>(srv.url, `/v1/sources/${sourceId}/reconciliations`);
      expect(running.body.data.map((j) => j.status)).toEqual(['running']);
      const jobId = running.body.data[0]?.id as string;

      const refused = await mh(srv.url, ['reconcile', '--source', sourceId, '--since', since, '--json']);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(
        `mailhook reconcile: MH_ERR_RECONCILE_RUNNING: reconciliation ${jobId} of this source is running`,
      );

      signal(watcher, 'SIGINT');
      const exit = await withTimeout(watcher.exited, 10_000, 'the watcher to stop after SIGINT');
      expect(exit.code, watcher.stderr()).toBe(1);
      expect(JSON.parse(watcher.stdout())).toMatchObject({ id: jobId, status: 'running' });
      expect(watcher.stderr()).toContain(
        'mailhook reconcile: stopped watching; the reconciliation goes on on the server',
      );

      gate.release();
      const done = await waitFor('the job to finish on the server', async () => {
        const job = await api<Job>(srv.url, `/v1/sources/${sourceId}/reconciliations/${jobId}`);
        return job.body.status === 'running' ? undefined : job.body;
      });
      expect(done).toMatchObject({ status: 'done', found: 5, new: 5, duplicates: 0, skipped: 1 });
    } finally {
      fake.pageOrigin = null;
      gate.release();
      await gate.close();
    }
  });
});
