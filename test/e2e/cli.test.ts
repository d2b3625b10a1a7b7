import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/migrations.js';
import {
  api,
  e2eEnv,
  killAll,
  removeDir,
  runCli,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';

interface InboxView {
  id: string;
  status: 'pending' | 'processed' | 'quarantined';
  attempts: number;
  error: string | null;
  event_count: number;
  duplicate_count: number;
}

interface ReprocessSummary {
  requeued: number;
  processed: number;
  quarantined: number;
  inserted: number;
  duplicates: number;
}

const dirs: string[] = [];

function freshDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

/** A Standard Webhooks sender: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the whsec_ secret. */
function standardHeaders(secret: string, id: string, body: string): Record<string, string> {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const timestamp = String(Math.floor(Date.now() / 1000));
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${mac}`,
  };
}

async function post(url: string, headers: Record<string, string>, body: string) {
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { status?: string; id?: string } };
}

async function inboxRow(server: ServerProcess, id: string): Promise<InboxView> {
  const row = await api<InboxView>(server.url, `/v1/inbox/${id}`);
  expect(row.status).toBe(200);
  return row.body;
}

/** The summary a `--json` command printed: its last line of stdout. */
function jsonSummary<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/** A Standard Webhooks source on a running server, and a way to post signed bodies to it. */
async function standardSource(server: ServerProcess) {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const created = await api<{ id: string; ingest_url: string }>(server.url, '/v1/sources', {
    method: 'POST',
    body: { name: 'standard sender', provider: 'standard', config: { secret } },
  });
  expect(created.status).toBe(201);
  expect(created.body.ingest_url).toBe(`${server.url}/ingest/${created.body.id}`);
  return {
    id: created.body.id,
    send: (body: string, signWith: string = secret) =>
      post(created.body.ingest_url, standardHeaders(signWith, `msg_${randomUUID()}`, body), body),
  };
}

/** Posts a correctly signed body that is not JSON and waits until the pipeline has quarantined it. */
async function postBroken(server: ServerProcess, source: Awaited<ReturnType<typeof standardSource>>) {
  const stored = await source.send('{"type": "email.delivered", "data": {');
  expect(stored.status).toBe(200);
  expect(stored.body.status).toBe('stored');
  const id = stored.body.id ?? '';
  expect(id).toMatch(/^in_/);
  return waitFor('the broken request to be quarantined', async () => {
    const page = await api<{ data: InboxView[] }>(server.url, '/v1/inbox?status=quarantined');
    return page.body.data.find((row) => row.id === id);
  });
}

describe('mailhook migrate', () => {
  it('applies the schema to a fresh data directory once and reports nothing to do the second time', async () => {
    const env = e2eEnv(freshDir());

    const first = await runCli(['migrate', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const versions = loadMigrations('sqlite').map((m) => m.version);
    expect(versions.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(JSON.parse(first.stdout)).toEqual({ dialect: 'sqlite', applied: versions });

    const second = await runCli(['migrate', '--json'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe('{"dialect":"sqlite","applied":[]}');
  });
});

describe('mailhook reprocess', () => {
  it('quarantines a verified request whose body is not JSON, and reprocessing never duplicates events', async () => {
    const dataDir = freshDir();
    let server = await startServer({ dataDir });
    const source = await standardSource(server);

    // A request signed with another secret is refused and never stored.
    const forged = await source.send(
      '{"type":"email.delivered"}',
      `whsec_${randomBytes(32).toString('base64')}`,
    );
    expect(forged.status).toBe(401);

    // Correctly signed, but not JSON: acknowledged (it is on disk), then quarantined by the pipeline.
    const quarantined = await postBroken(server, source);
    expect(quarantined.error).not.toBeNull();
    expect(quarantined.error).toContain('JSON');
    expect(quarantined.attempts).toBe(1);

    // A valid event next to it becomes exactly one event.
    const good = JSON.stringify({
      type: 'email.delivered',
      timestamp: new Date().toISOString(),
      data: { recipient: 'someone@example.com', message_id: 'm-1' },
    });
    const accepted = await source.send(good);
    expect(accepted.status).toBe(200);
    const goodId = accepted.body.id ?? '';
    const processed = await waitFor('the valid request to be processed', async () => {
      const row = await inboxRow(server, goodId);
      return row.status === 'processed' ? row : undefined;
    });
    expect(processed.event_count).toBe(1);
    const all = await api<{ data: InboxView[] }>(server.url, '/v1/inbox');
    expect(all.body.data).toHaveLength(2);

    const stopped = await server.stop();
    expect(stopped.code, server.stderr()).toBe(0);

    // Default: the quarantined rows. The body is still not JSON, so the row is quarantined again (exit 1).
    const env = e2eEnv(dataDir);
    const again = await runCli(['reprocess', '--json'], env);
    expect(again.code, again.stderr).toBe(1);
    expect(jsonSummary<ReprocessSummary>(again.stdout)).toMatchObject({
      requeued: 1,
      processed: 0,
      quarantined: 1,
      inserted: 0,
    });

    // Processed rows run again: their events are deduplicated, not stored twice.
    const replay = await runCli(['reprocess', '--status', 'processed', '--json'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(jsonSummary<ReprocessSummary>(replay.stdout)).toMatchObject({
      requeued: 1,
      processed: 1,
      quarantined: 0,
      inserted: 0,
      duplicates: 1,
    });

    server = await startServer({ dataDir });
    const brokenAfter = await inboxRow(server, quarantined.id);
    expect(brokenAfter).toMatchObject({ status: 'quarantined', attempts: 2 });
    expect(brokenAfter.error).toContain('JSON');
    const goodAfter = await inboxRow(server, goodId);
    expect(goodAfter).toMatchObject({ status: 'processed', attempts: 2, duplicate_count: 1 });
    const events = await api<{ data: { data: { recipient: string } }[] }>(server.url, '/v1/events?limit=500');
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]?.data.recipient).toBe('someone@example.com');
    await server.stop();
  }, 45_000);

  it('prints nothing but its JSON summary on stdout with --json, even when a row is quarantined again', async () => {
    const dataDir = freshDir();
    const server = await startServer({ dataDir });
    await postBroken(server, await standardSource(server));
    expect((await server.stop()).code, server.stderr()).toBe(0);

    const result = await runCli(['reprocess', '--json'], e2eEnv(dataDir));

    expect(result.code, result.stderr).toBe(1);
    // Scripts parse this output: log lines (pino writes to stdout by default) must not be mixed in.
    expect(
      () => JSON.parse(result.stdout),
      `stdout must be exactly one JSON document; it was:\n${result.stdout}`,
    ).not.toThrow();
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({
      requeued: 1,
      quarantined: 1,
    });
  }, 30_000);
});

describe('the generated admin key', () => {
  const KEY = /mh_[A-Za-z0-9_-]{32}/g;

  it('is printed once on the first start without MAILHOOK_API_KEY, never again, and works as Bearer', async () => {
    const dataDir = freshDir();
    const noKey = { MAILHOOK_API_KEY: undefined };

    const first = await startServer({ dataDir, env: noKey });
    // Written before the server listens; wait for the pipe to deliver it rather than assume.
    const printed = await waitFor(
      'the generated key on stdout',
      async () => first.stdout().match(KEY) ?? undefined,
    );
    const key = printed[0] ?? '';

    const sources = await api<{ data: unknown[] }>(first.url, '/v1/sources', { key });
    expect(sources.status).toBe(200);
    expect(sources.body.data).toEqual([]);
    const wrong = await api(first.url, '/v1/sources', { key: `${key}x` });
    expect(wrong.status).toBe(401);

    const firstExit = await first.stop();
    expect(firstExit.code, first.stderr()).toBe(0);
    expect(first.stdout().match(KEY)).toEqual([key]);
    expect(first.stdout().split('generated an admin API key')).toHaveLength(2);

    const second = await startServer({ dataDir, env: noKey });
    const stillWorks = await api(second.url, '/v1/sources', { key });
    expect(stillWorks.status).toBe(200);
    const secondExit = await second.stop();
    expect(secondExit.code, second.stderr()).toBe(0);
    // Complete output (the process has exited): no key, new or old.
    expect(second.stdout()).not.toMatch(KEY);
    expect(second.stdout()).not.toContain('generated an admin API key');
  }, 30_000);
});
