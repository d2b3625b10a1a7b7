import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allEvents } from '../helpers/pg-database.js';
import {
  api,
  killAll,
  REPO_ROOT,
  removeDir,
  type ServerProcess,
  signal,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import {
  checkSignature,
  type ReceivedRequest,
  type Receiver,
  startReceiver,
  statusSequence,
  verifiedByBoth,
} from '../helpers/receiver.js';
import { type SendGridSigner, sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

/**
 * End-to-end delivery: real `mailhook serve` processes, real receivers on 127.0.0.1, signatures checked
 * with the official `standardwebhooks` and `svix` libraries.
 */

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

/** A short schedule so retries happen within a test; the policy floors are capped at its longest delay. */
const FAST_ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,200ms,200ms,200ms,200ms',
  MAILHOOK_DELIVERY_TIMEOUT: '2s',
};

interface EventView {
  id: string;
  type: string;
  timestamp: string;
  data: {
    provider: string;
    source_id: string;
    provider_event_id: string | null;
    metadata: Record<string, unknown>;
    [key: string]: unknown;
  };
}

interface EndpointView {
  id: string;
  url: string;
  status: 'active' | 'paused' | 'disabled';
  status_reason: string | null;
  secret?: string;
}

interface DeliveryView {
  id: string;
  event_id: string;
  endpoint_id: string;
  origin: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
}

interface AttemptView {
  id: string;
  attempt: number;
  started_at: string;
  duration_ms: number;
  ok: boolean;
  http_status: number | null;
  error_class: string | null;
  error: string | null;
}

interface ReplayView {
  id: string;
  status: 'running' | 'done';
  scanned: number;
  enqueued: number;
  skipped: number;
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping: every process, receiver and data dir a test starts is cleaned up by its own handle.

const dirs: string[] = [];
/** Servers started by one test (killed after it); the shared server is killed in afterAll. */
const testServers = new Set<ServerProcess>();
/** Per-test cleanups (delete endpoints, close receivers), run in reverse order after each test. */
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  const steps = cleanups.reverse();
  cleanups = [];
  for (const step of steps) await step().catch(() => undefined);
  for (const server of testServers) await server.crash().catch(() => undefined);
  testServers.clear();
});

afterAll(async () => {
  // Safety net for anything left (a beforeAll that failed half-way): only children of this file.
  await killAll();
  for (const dir of dirs) removeDir(dir);
});

async function serverForThisTest(env: Record<string, string | undefined>, dataDir = tempDataDir()) {
  if (!dirs.includes(dataDir)) dirs.push(dataDir);
  const server = await startServer({ dataDir, env });
  testServers.add(server);
  return server;
}

async function receiver(options: Parameters<typeof startReceiver>[0] = {}): Promise<Receiver> {
  const r = await startReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

// ---------------------------------------------------------------------------------------------
// API helpers

async function createSource(server: ServerProcess, signer: SendGridSigner): Promise<string> {
  const created = await api<{ id: string }>(server.url, '/v1/sources', {
    method: 'POST',
    body: { name: 'delivery e2e', provider: 'sendgrid', config: { public_key: signer.publicKey } },
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

/** Creates an endpoint for a receiver and gives the receiver its secret; deleted after the test. */
async function createEndpoint(
  server: ServerProcess,
  target: Receiver,
  extra: Record<string, unknown> = {},
): Promise<EndpointView & { secret: string }> {
  const created = await api<EndpointView & { secret: string }>(server.url, '/v1/endpoints', {
    method: 'POST',
    body: { url: target.url, ...extra },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.secret).toMatch(/^whsec_/);
  target.secrets.push(created.body.secret);
  const id = created.body.id;
  cleanups.push(() => api(server.url, `/v1/endpoints/${id}`, { method: 'DELETE' }));
  return created.body;
}

async function ingest(
  server: ServerProcess,
  sourceId: string,
  signer: SendGridSigner,
  events: Record<string, unknown>[],
): Promise<void> {
  const body = sendGridBody(events);
  const response = await fetch(`${server.url}/ingest/${sourceId}`, {
    method: 'POST',
    headers: signer.headers(body),
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
}

/** Every stored event of a source (paged), once at least `count` of them are stored. */
async function storedEvents(server: ServerProcess, sourceId: string, count: number): Promise<EventView[]> {
  return waitFor(
    `${count} stored events of ${sourceId}`,
    async () => {
      const events = await allEvents<EventView>(server.url, sourceId);
      return events.length >= count ? events : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
}

async function allDeliveries(server: ServerProcess, endpointId: string): Promise<DeliveryView[]> {
  const deliveries: DeliveryView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await api<{ data: DeliveryView[]; next_cursor: string | null }>(
      server.url,
      `/v1/endpoints/${endpointId}/deliveries?limit=500${query}`,
    );
    expect(page.status).toBe(200);
    deliveries.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return deliveries;
}

async function attemptsOf(server: ServerProcess, deliveryId: string) {
  const got = await api<DeliveryView & { attempts: AttemptView[] }>(
    server.url,
    `/v1/deliveries/${deliveryId}`,
  );
  expect(got.status).toBe(200);
  return got.body;
}

async function getEndpoint(server: ServerProcess, id: string): Promise<EndpointView> {
  const got = await api<EndpointView>(server.url, `/v1/endpoints/${id}`);
  expect(got.status).toBe(200);
  return got.body;
}

/** Waits until the receiver has seen every id at least once. */
function receivedAll(target: Receiver, ids: Iterable<string>, timeoutMs = 5000, what = 'deliveries') {
  const wanted = [...ids];
  return waitFor(
    `${wanted.length} ${what} at ${target.url}`,
    async () => {
      const seen = target.ids();
      return wanted.every((id) => seen.has(id)) ? true : undefined;
    },
    { timeoutMs, intervalMs: 20 },
  );
}

/** Lets `ms` pass (used only where the assertion is "nothing happens for a while"). */
function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

function signatureFailures(requests: ReceivedRequest[]): string[] {
  return requests
    .filter((r) => !verifiedByBoth(r))
    .map((r) => `${r.webhookId}: ${JSON.stringify(r.checks.map(({ secret: _s, ...rest }) => rest))}`);
}

// ---------------------------------------------------------------------------------------------

describe('outbound delivery on a shared server', () => {
  let server: ServerProcess;
  const signer = sendGridSigner();

  beforeAll(async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    server = await startServer({ dataDir, env: FAST_ENV });
  });

  afterAll(async () => {
    await server?.stop(5000).catch(() => undefined);
  });

  it('delivers each event of an ingested SendGrid batch within seconds, signed so that both official libraries verify it', async () => {
    const target = await receiver();
    await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);

    const events = sendGridEvents(20);
    const started = performance.now();
    await ingest(server, sourceId, signer, events);
    const acked = performance.now();

    const stored = await storedEvents(server, sourceId, events.length);
    expect(stored).toHaveLength(events.length);
    const byId = new Map(stored.map((e) => [e.id, e]));
    await receivedAll(target, byId.keys(), 5000);

    const latencies = [...byId.keys()]
      .map((id) => (target.byId(id)[0] as ReceivedRequest).receivedAt - started)
      .sort((a, b) => a - b);
    console.log(
      `ingest → receipt over ${latencies.length} events: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `max ${percentile(latencies, 100).toFixed(1)} ms (ingest answered after ${(acked - started).toFixed(1)} ms)`,
    );
    expect(percentile(latencies, 100)).toBeLessThan(5000);

    expect(target.ids()).toEqual(new Set(byId.keys()));
    expect(target.requests, 'each event exactly once (no retries for a 200)').toHaveLength(events.length);
    expect(signatureFailures(target.requests)).toEqual([]);
    const sentIds = new Set(events.map((e) => String(e.sg_event_id)));
    const nowSec = Math.floor(Date.now() / 1000);
    for (const request of target.requests) {
      expect(request.method).toBe('POST');
      expect(request.headers['user-agent']).toBe(`mailhook/${VERSION}`);
      expect(request.headers['content-type']).toMatch(/^application\/json/);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(request.headers['webhook-timestamp']) - nowSec)).toBeLessThan(30);
      const body = JSON.parse(request.body) as EventView;
      expect(request.webhookId).toBe(body.id);
      expect(body).toEqual(byId.get(body.id));
      expect(sentIds.has(String(body.data.provider_event_id))).toBe(true);
      expect(body.data.source_id).toBe(sourceId);
    }
  });

  it('retries a receiver that answers 500 twice and records the attempts [500, 500, 200] with the same webhook-id', async () => {
    const target = await receiver({ respond: statusSequence([500, 500, 200]) });
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);
    await ingest(server, sourceId, signer, sendGridEvents(1, { event: 'delivered' }));
    const [event] = await storedEvents(server, sourceId, 1);
    const eventId = (event as EventView).id;

    await waitFor(
      'the third attempt to be answered 200',
      async () => (target.byId(eventId)[2]?.answeredStatus === 200 ? true : undefined),
      { timeoutMs: 5000, intervalMs: 20 },
    );
    expect(target.requests.map((r) => r.webhookId)).toEqual([eventId, eventId, eventId]);
    expect(target.requests.map((r) => r.answeredStatus)).toEqual([500, 500, 200]);
    expect(signatureFailures(target.requests)).toEqual([]);
    // Each attempt is signed afresh, but the payload does not change.
    expect(new Set(target.requests.map((r) => r.body)).size).toBe(1);

    const delivery = await waitFor(
      'the delivery to be recorded as succeeded',
      async () => {
        const list = await allDeliveries(server, endpoint.id);
        return list.length === 1 && list[0]?.status === 'succeeded' ? list[0] : undefined;
      },
      { timeoutMs: 5000 },
    );
    expect(delivery.event_id).toBe(eventId);
    const detail = await attemptsOf(server, delivery.id);
    expect(detail.status).toBe('succeeded');
    expect(detail.attempts).toHaveLength(3);
    expect(detail.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(detail.attempts.map((a) => a.http_status)).toEqual([500, 500, 200]);
    expect(detail.attempts.map((a) => a.ok)).toEqual([false, false, true]);
    for (const attempt of detail.attempts) {
      expect(typeof attempt.duration_ms).toBe('number');
      expect(attempt.duration_ms).toBeGreaterThanOrEqual(0);
      expect(attempt.duration_ms).toBeLessThan(2000);
    }
    console.log(
      `retry gaps at the receiver: ${target.requests
        .slice(1)
        .map((r, i) => (r.receivedAt - (target.requests[i]?.receivedAt ?? 0)).toFixed(0))
        .join(' ms, ')} ms`,
    );
  });

  it('routes each event only to the endpoints whose event types and filter match it', async () => {
    const [ra, rb, rc] = await Promise.all([receiver(), receiver(), receiver()]);
    const a = await createEndpoint(server, ra as Receiver, { event_types: ['email.bounced'] });
    const b = await createEndpoint(server, rb as Receiver, { filter: { metadata: { tenant: 'acme' } } });
    const c = await createEndpoint(server, rc as Receiver);
    const sourceId = await createSource(server, signer);

    // processed, delivered, open, click, bounce, … : 2 + 2 + 1 bounces, 10 events for acme.
    const events = [
      ...sendGridEvents(10, { tenant: 'acme' }),
      ...sendGridEvents(10, { tenant: 'globex' }),
      ...sendGridEvents(5),
    ];
    await ingest(server, sourceId, signer, events);
    const stored = await storedEvents(server, sourceId, events.length);
    expect(stored).toHaveLength(25);

    const bounced = stored.filter((e) => e.type === 'email.bounced').map((e) => e.id);
    const acme = stored.filter((e) => e.data.metadata.tenant === 'acme').map((e) => e.id);
    const all = stored.map((e) => e.id);
    // The custom arg must have become data.metadata.tenant, or the filter has nothing to match.
    expect(bounced).toHaveLength(5);
    expect(acme).toHaveLength(10);

    await receivedAll(rc as Receiver, all, 5000);
    await receivedAll(ra as Receiver, bounced, 5000);
    await receivedAll(rb as Receiver, acme, 5000);
    // Fan-out creates the deliveries in the pipeline's transaction: their lists are final already.
    const deliveredTo = async (id: string) =>
      new Set((await allDeliveries(server, id)).map((d) => d.event_id));
    expect(await deliveredTo(a.id)).toEqual(new Set(bounced));
    expect(await deliveredTo(b.id)).toEqual(new Set(acme));
    expect(await deliveredTo(c.id)).toEqual(new Set(all));

    expect((ra as Receiver).ids()).toEqual(new Set(bounced));
    expect((rb as Receiver).ids()).toEqual(new Set(acme));
    expect((rc as Receiver).ids()).toEqual(new Set(all));
    for (const r of [ra, rb, rc] as Receiver[]) expect(signatureFailures(r.requests)).toEqual([]);
  });

  it('holds deliveries while an endpoint is paused and sends them all after resume', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);

    const paused = await api<EndpointView>(server.url, `/v1/endpoints/${endpoint.id}/pause`, {
      method: 'POST',
    });
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');

    await ingest(server, sourceId, signer, sendGridEvents(5));
    const stored = await storedEvents(server, sourceId, 5);
    await quiet(1000);
    expect(target.requests, 'requests to a paused endpoint').toHaveLength(0);
    const held = await allDeliveries(server, endpoint.id);
    expect(held.map((d) => d.status)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);

    const resumedAt = performance.now();
    const resumed = await api<EndpointView>(server.url, `/v1/endpoints/${endpoint.id}/resume`, {
      method: 'POST',
    });
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('active');
    await receivedAll(
      target,
      stored.map((e) => e.id),
      5000,
    );
    console.log(
      `resume → last of 5 held events received: ${(Math.max(...target.requests.map((r) => r.receivedAt)) - resumedAt).toFixed(0)} ms`,
    );
    expect(target.requests).toHaveLength(5);
    expect(signatureFailures(target.requests)).toEqual([]);
  });

  it('disables an endpoint that answers 410 Gone and attempts nothing more for it', async () => {
    const target = await receiver({ respond: () => ({ status: 410 }) });
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);

    await ingest(server, sourceId, signer, sendGridEvents(1));
    const disabled = await waitFor(
      'the endpoint to be disabled',
      async () => {
        const got = await getEndpoint(server, endpoint.id);
        return got.status === 'disabled' ? got : undefined;
      },
      { timeoutMs: 5000 },
    );
    expect(disabled.status_reason).toMatch(/410/);
    expect(target.requests).toHaveLength(1);
    // Logged by the delivery worker (on the pipeline thread with SQLite) with one `area` key, not the
    // pipeline's and its own.
    const logLine = await waitFor('the "endpoint disabled" log line', async () =>
      `${server.stdout()}\n${server.stderr()}`
        .split('\n')
        .find((line) => line.includes('"endpoint disabled"')),
    );
    expect(logLine.match(/"area":"[a-z-]+"/g)).toEqual(['"area":"delivery"']);
    const [first] = await allDeliveries(server, endpoint.id);
    expect(first?.status).toBe('failed');
    expect(first?.attempts).toBe(1);

    await ingest(server, sourceId, signer, sendGridEvents(3));
    await storedEvents(server, sourceId, 4);
    await quiet(1000);
    expect(target.requests, 'requests after the endpoint was disabled').toHaveLength(1);
    expect(await allDeliveries(server, endpoint.id)).toHaveLength(1);
  });

  it('waits as long as Retry-After asks after a 429 before the next attempt', async () => {
    const target = await receiver({
      respond: (request) =>
        request.nth === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    });
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);
    await ingest(server, sourceId, signer, sendGridEvents(1));
    const [event] = await storedEvents(server, sourceId, 1);
    const eventId = (event as EventView).id;

    await waitFor('the second attempt', async () => (target.byId(eventId).length >= 2 ? true : undefined), {
      timeoutMs: 6000,
      intervalMs: 20,
    });
    const [first, second] = target.byId(eventId) as [ReceivedRequest, ReceivedRequest];
    const gap = second.receivedAt - (first.answeredAt ?? first.receivedAt);
    console.log(`429 with Retry-After: 1 → next attempt ${gap.toFixed(0)} ms after the 429 was sent`);
    // The schedule alone would retry after ~200 ms.
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(3000);

    const delivery = await waitFor(
      'the delivery to succeed',
      async () => {
        const [d] = await allDeliveries(server, endpoint.id);
        return d?.status === 'succeeded' ? d : undefined;
      },
      { timeoutMs: 5000 },
    );
    const detail = await attemptsOf(server, delivery.id);
    expect(detail.attempts.map((a) => a.http_status)).toEqual([429, 200]);
  });

  it('test-sends a sample event, redelivers a stored event and replays a time range with the same webhook-ids', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);

    // Test send: a sample email.delivered event that is not stored.
    const test = await api<{ delivery_id: string; event: EventView }>(
      server.url,
      `/v1/endpoints/${endpoint.id}/test`,
      { method: 'POST', body: {} },
    );
    expect(test.status).toBe(202);
    await receivedAll(target, [test.body.event.id], 5000, 'test sends');
    const sample = target.byId(test.body.event.id)[0] as ReceivedRequest;
    expect(verifiedByBoth(sample), JSON.stringify(sample.checks)).toBe(true);
    const sampleBody = JSON.parse(sample.body) as EventView;
    expect(sampleBody.type).toBe('email.delivered');
    expect(sampleBody).toEqual(test.body.event);

    // Events placed two hours back, at one second of their own, so the replay range holds only them.
    const at = Math.floor(Date.now() / 1000) - 7200;
    await ingest(server, sourceId, signer, sendGridEvents(3, { timestamp: at }));
    const stored = await storedEvents(server, sourceId, 3);
    const ids = stored.map((e) => e.id);
    await receivedAll(target, ids, 5000);

    // Redeliver one stored event: the same webhook-id and body arrive again.
    const chosen = ids[0] as string;
    const redeliver = await api<{ deliveries: Array<{ id: string; endpoint_id: string }> }>(
      server.url,
      `/v1/events/${chosen}/redeliver`,
      { method: 'POST', body: { endpoint_id: endpoint.id } },
    );
    expect(redeliver.status).toBe(202);
    expect(redeliver.body.deliveries).toHaveLength(1);
    await waitFor('the redelivery', async () => (target.byId(chosen).length >= 2 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 20,
    });
    // The receiver has it; the replay below skips an event whose delivery is still pending, so wait
    // until the redelivery's success is recorded too (its attempt is written just after the answer).
    const redelivery = redeliver.body.deliveries[0]?.id ?? '';
    await waitFor(
      'the redelivery to be recorded',
      async () => {
        const got = await api<{ status: string }>(server.url, `/v1/deliveries/${redelivery}`);
        return got.body.status === 'succeeded' ? true : undefined;
      },
      { timeoutMs: 5000, intervalMs: 20 },
    );
    const [original, again] = target.byId(chosen) as [ReceivedRequest, ReceivedRequest];
    expect(again.webhookId).toBe(original.webhookId);
    expect(again.body).toBe(original.body);
    expect(verifiedByBoth(again)).toBe(true);

    // Replay the range: each of the three arrives once more.
    const countsBefore = new Map(ids.map((id) => [id, target.byId(id).length]));
    const replay = await api<ReplayView>(server.url, `/v1/endpoints/${endpoint.id}/replay`, {
      method: 'POST',
      body: {
        since: new Date((at - 1) * 1000).toISOString(),
        until: new Date((at + 2) * 1000).toISOString(),
      },
    });
    expect(replay.status, JSON.stringify(replay.body)).toBe(202);
    const done = await waitFor(
      'the replay to finish',
      async () => {
        const got = await api<ReplayView>(
          server.url,
          `/v1/endpoints/${endpoint.id}/replays/${replay.body.id}`,
        );
        return got.body.status === 'done' ? got.body : undefined;
      },
      { timeoutMs: 5000, intervalMs: 50 },
    );
    expect(done.enqueued).toBe(ids.length);
    expect(done.scanned).toBe(ids.length);
    await waitFor(
      'the replayed events',
      async () =>
        ids.every((id) => target.byId(id).length >= (countsBefore.get(id) ?? 0) + 1) ? true : undefined,
      { timeoutMs: 5000, intervalMs: 20 },
    );
    for (const id of ids) {
      const copies = target.byId(id);
      expect(new Set(copies.map((r) => r.body)).size, `bodies sent for ${id}`).toBe(1);
    }
    expect(signatureFailures(target.requests)).toEqual([]);
    const origins = (await allDeliveries(server, endpoint.id)).map((d) => d.origin).sort();
    expect(origins).toEqual(['event', 'event', 'event', 'redeliver', 'replay', 'replay', 'replay', 'test']);
  });

  it('signs with both the new and the old secret after a rotation, and each verifies alone', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(server, target);
    const oldSecret = endpoint.secret;
    const sourceId = await createSource(server, signer);

    await ingest(server, sourceId, signer, sendGridEvents(1));
    const [before] = await storedEvents(server, sourceId, 1);
    await receivedAll(target, [(before as EventView).id]);
    const first = target.requests[0] as ReceivedRequest;
    expect(first.headers['webhook-signature']?.split(' ')).toHaveLength(1);

    const rotated = await api<{ secret: string; previous_expires_at: string | null }>(
      server.url,
      `/v1/endpoints/${endpoint.id}/rotate-secret`,
      { method: 'POST', body: {} },
    );
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.body.previous_expires_at).not.toBeNull();
    target.secrets.push(newSecret);

    await ingest(server, sourceId, signer, sendGridEvents(1));
    const after = (await storedEvents(server, sourceId, 2)).find((e) => e.id !== (before as EventView).id);
    await receivedAll(target, [(after as EventView).id]);
    const second = target.byId((after as EventView).id)[0] as ReceivedRequest;
    const signatures = second.headers['webhook-signature']?.split(' ') ?? [];
    expect(signatures).toHaveLength(2);
    for (const signature of signatures) expect(signature).toMatch(/^v1,/);
    // Newest first, as the signing code documents.
    const timestamp = new Date(Number(second.headers['webhook-timestamp']) * 1000);
    expect(signatures).toEqual([
      new StandardWebhook(newSecret).sign(second.webhookId, timestamp, second.body),
      new StandardWebhook(oldSecret).sign(second.webhookId, timestamp, second.body),
    ]);

    const withOld = checkSignature(oldSecret, second.body, second.headers);
    const withNew = checkSignature(newSecret, second.body, second.headers);
    expect(withOld.standardwebhooks).toBe(true);
    expect(withNew.standardwebhooks).toBe(true);
    expect(withOld.svix).toBe(true);
    expect(withNew.svix).toBe(true);
    // And a secret the endpoint never had does not.
    const stranger = checkSignature(
      `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
      second.body,
      second.headers,
    );
    expect(stranger.standardwebhooks).not.toBe(true);
  });
});

describe('outbound delivery on dedicated servers', () => {
  it('delivers every event at least once across a SIGKILL and marks none succeeded without a 2xx', async () => {
    const dataDir = tempDataDir();
    const signer = sendGridSigner();
    let server = await serverForThisTest(FAST_ENV, dataDir);
    // 200–400 ms per answer (300 on average), staggered so that answers and new requests overlap.
    const target = await receiver({ respond: (r) => ({ status: 200, delayMs: 200 + (r.index % 5) * 50 }) });
    const endpoint = await createEndpoint(server, target);
    const sourceId = await createSource(server, signer);

    // SIGKILL the server the instant the receiver has written its 50th 2xx: that answer (and any
    // written just before it) may reach mailhook or not, and dozens of requests are still open.
    const KILL_AFTER = 50;
    let answered = 0;
    let killed = false;
    let atKill = { received: 0, inflight: 0 };
    const victim = server;
    target.onAnswered = (request) => {
      if (killed || request.answeredStatus !== 200 || ++answered < KILL_AFTER) return;
      killed = true;
      atKill = { received: target.requests.length, inflight: target.inflight() };
      signal(victim, 'SIGKILL');
    };

    const TOTAL = 200;
    for (let i = 0; i < TOTAL / 20; i++) await ingest(server, sourceId, signer, sendGridEvents(20));
    const exit = await waitFor('the SIGKILL', async () => (killed ? victim.crash() : undefined), {
      timeoutMs: 15_000,
      intervalMs: 5,
    });
    expect(exit.signal).toBe('SIGKILL');
    target.onAnswered = null;
    testServers.delete(victim);

    server = await serverForThisTest(FAST_ENV, dataDir);
    const stored = await storedEvents(server, sourceId, TOTAL);
    expect(stored).toHaveLength(TOTAL);
    const ids = stored.map((e) => e.id);
    await receivedAll(target, ids, 20_000);

    const deliveries = await waitFor(
      'every delivery to be finished',
      async () => {
        const list = await allDeliveries(server, endpoint.id);
        return list.length === TOTAL && list.every((d) => d.status !== 'pending') ? list : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const is2xx = (r: ReceivedRequest) =>
      r.answeredStatus !== null && r.answeredStatus >= 200 && r.answeredStatus < 300;
    const twice = ids.filter((id) => target.byId(id).length > 1);
    const twiceAfter2xx = twice.filter((id) => is2xx(target.byId(id)[0] as ReceivedRequest));
    console.log(
      `crash: SIGKILL after the ${KILL_AFTER}th 2xx; ${atKill.received} requests received by then, ` +
        `${atKill.inflight} still open; ${target.requests.length} requests in all for ${TOTAL} events; ` +
        `${twice.length} events arrived more than once (${twiceAfter2xx.length} of them after a 2xx ` +
        `mailhook did not record, ${twice.length - twiceAfter2xx.length} after an abandoned attempt)`,
    );
    expect(
      deliveries.filter((d) => d.status !== 'succeeded').map((d) => `${d.id}: ${d.status} ${d.last_error}`),
    ).toEqual([]);
    expect(new Set(deliveries.map((d) => d.event_id))).toEqual(new Set(ids));

    // A success recorded for an event needs a 2xx the receiver really sent for that event.
    const unbacked: string[] = [];
    for (const delivery of deliveries) {
      const detail = await attemptsOf(server, delivery.id);
      const okAttempts = detail.attempts.filter((a) => a.ok).length;
      const sent2xx = target.byId(delivery.event_id).filter(is2xx).length;
      if (okAttempts > sent2xx)
        unbacked.push(`${delivery.event_id}: ${okAttempts} ok attempts, ${sent2xx} 2xx`);
    }
    expect(unbacked).toEqual([]);
    expect(signatureFailures(target.requests)).toEqual([]);
  }, 45_000);

  it('keeps delivering to a fast endpoint while a slow endpoint holds its requests open', async () => {
    const signer = sendGridSigner();
    const server = await serverForThisTest({ ...FAST_ENV, MAILHOOK_DELIVERY_TIMEOUT: '15s' });
    const slow = await receiver({ respond: () => ({ status: 200, delayMs: 10_000 }) });
    const fast = await receiver();
    await createEndpoint(server, slow);
    await createEndpoint(server, fast);
    const sourceId = await createSource(server, signer);

    const started = performance.now();
    await ingest(server, sourceId, signer, sendGridEvents(20));
    const stored = await storedEvents(server, sourceId, 20);
    await receivedAll(
      fast,
      stored.map((e) => e.id),
      3000,
      'fast deliveries',
    );
    const fastDone = Math.max(...fast.requests.map((r) => r.receivedAt)) - started;
    await waitFor('the slow endpoint to be hit', async () => (slow.requests.length > 0 ? true : undefined), {
      timeoutMs: 3000,
      intervalMs: 20,
    });
    console.log(
      `slow-endpoint isolation: fast endpoint had all 20 after ${fastDone.toFixed(0)} ms; ` +
        `slow endpoint has ${slow.inflight()} requests hanging`,
    );
    expect(fastDone).toBeLessThan(3000);
    expect(slow.requests.every((r) => r.answeredStatus === null)).toBe(true);
    expect(slow.inflight()).toBeGreaterThan(0);
    expect(fast.requests).toHaveLength(20);
    expect(signatureFailures(fast.requests)).toEqual([]);
  });

  it('refuses loopback, link-local and localhost endpoint URLs unless private targets are allowed', async () => {
    const server = await serverForThisTest({});
    for (const url of [
      'http://127.0.0.1:1/x',
      'http://169.254.169.254/latest',
      'http://[::1]/',
      'http://localhost/',
    ]) {
      const created = await api<{ code: string; message: string }>(server.url, '/v1/endpoints', {
        method: 'POST',
        body: { url },
      });
      expect(created.status, `${url}: ${JSON.stringify(created.body)}`).toBe(400);
      expect(created.body.code, url).toBe('MH_ERR_ENDPOINT_URL_REFUSED');
    }
    const list = await api<{ data: unknown[] }>(server.url, '/v1/endpoints');
    expect(list.body.data).toEqual([]);
  });
});
