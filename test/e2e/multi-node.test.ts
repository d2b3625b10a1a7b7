import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postSigned } from '../helpers/crash-load.js';
import {
  allDeliveries,
  allEvents,
  checkStored,
  createSendGridSource,
  createTestDatabase,
  freePorts,
  inboxDrained,
  type PgNode,
  removeNodeDirs,
  sleep,
  spawnPgNode,
  startPgNode,
  type TestDatabase,
} from '../helpers/pg-database.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { api, killAll, REPO_ROOT, waitFor } from '../helpers/process.js';
import { type ReceivedRequest, type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';
import { type SendGridSigner, sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

/**
 * Several `mailhook serve` nodes on one PostgreSQL database: shared ingest, pipeline and delivery
 * work claimed with FOR UPDATE SKIP LOCKED and leases, a node SIGKILLed and restarted mid-load, and
 * concurrent start-up migrations serialised by an advisory lock.
 */

const NODES = 3;
const SENDERS = 12;
/** The lease of a claimed delivery is the delivery timeout + 30 s (src/delivery/worker.ts). */
const DELIVERY_TIMEOUT = '2s';
const LEASE_MS = 2000 + 30_000;
const NODE_ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,200ms,500ms,1s,1s,1s',
  MAILHOOK_DELIVERY_TIMEOUT: DELIVERY_TIMEOUT,
  MAILHOOK_LOG_LEVEL: 'warn',
};

const databases: TestDatabase[] = [];
const receivers: Receiver[] = [];

afterEach(async () => {
  await killAll();
  for (const receiver of receivers.splice(0)) await receiver.close().catch(() => undefined);
});

afterAll(async () => {
  await killAll();
  for (const db of databases.splice(0)) await db.drop();
  removeNodeDirs();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

interface NodeCounts {
  /** Milliseconds of each acknowledged request. */
  latencies: number[];
  sent: number;
  acknowledged: number;
  failed: number;
  unexpected: number;
}

interface MultiLoad {
  acknowledgedRequests: number;
  acknowledgedIds: Set<string>;
  sentIds: Set<string>;
  perNode: NodeCounts[];
  unexpected: Map<number, number>;
}

/**
 * SENDERS concurrent senders, each request to the next node in turn (round-robin), until `stopped()`.
 * The counts are live; `done` settles when every sender has stopped.
 */
function runRoundRobinLoad(
  urls: string[],
  sourceId: string,
  signer: SendGridSigner,
  stopped: () => boolean,
): { load: MultiLoad; done: Promise<void> } {
  const load: MultiLoad = {
    acknowledgedRequests: 0,
    acknowledgedIds: new Set(),
    sentIds: new Set(),
    perNode: urls.map(() => ({ latencies: [], sent: 0, acknowledged: 0, failed: 0, unexpected: 0 })),
    unexpected: new Map(),
  };
  let next = 0;
  const sender = async () => {
    while (!stopped()) {
      const index = next++ % urls.length;
      const counts = load.perNode[index] as NodeCounts;
      const events = sendGridEvents(1 + Math.floor(Math.random() * 5));
      const body = sendGridBody(events);
      for (const event of events) load.sentIds.add(String(event.sg_event_id));
      counts.sent++;
      const sentAt = performance.now();
      const status = await postSigned(`${urls[index]}/ingest/${sourceId}`, signer, body);
      if (status === null) {
        // In flight at the kill, or sent to the node while it was down: not acknowledged.
        counts.failed++;
        await sleep(5);
        continue;
      }
      if (status === 200) {
        counts.latencies.push(performance.now() - sentAt);
        counts.acknowledged++;
        load.acknowledgedRequests++;
        for (const event of events) load.acknowledgedIds.add(String(event.sg_event_id));
      } else {
        counts.unexpected++;
        load.unexpected.set(status, (load.unexpected.get(status) ?? 0) + 1);
      }
    }
  };
  const done = Promise.all(Array.from({ length: SENDERS }, sender)).then(() => undefined);
  return { load, done };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const is2xx = (r: ReceivedRequest) =>
  r.answeredStatus !== null && r.answeredStatus >= 200 && r.answeredStatus < 300;

const available = await postgresAvailable();

describe.runIf(available)('several nodes on one PostgreSQL database', () => {
  it('three nodes share ingest and delivery, survive the SIGKILL and restart of one of them, store every acknowledged event once and deliver every event', async () => {
    const db = await database();
    const ports = await freePorts(NODES);
    const nodes: PgNode[] = [];
    for (const port of ports) nodes.push(await startPgNode({ databaseUrl: db.url, port, env: NODE_ENV }));
    const urls = nodes.map((n) => n.url);

    const signer = sendGridSigner();
    // 20–100 ms per answer, so that every node has deliveries in flight when one is killed.
    const target = await startReceiver({
      respond: (r) => ({ status: 200, delayMs: 20 + (r.index % 5) * 20 }),
    });
    receivers.push(target);
    // Created on different nodes: they share the database.
    const sourceId = await createSendGridSource(urls[0] as string, signer, 'multi-node');
    const endpoint = await api<{ id: string; secret: string }>(urls[1] as string, '/v1/endpoints', {
      method: 'POST',
      body: { url: target.url },
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    target.secrets.push(endpoint.body.secret);
    const endpointId = endpoint.body.id;

    let stopped = false;
    const started = Date.now();
    const { load: result, done: loadDone } = runRoundRobinLoad(urls, sourceId, signer, () => stopped);

    await sleep(2500);
    const victimIndex = Math.floor(Math.random() * NODES);
    const victim = nodes[victimIndex] as PgNode;
    const [leasedAtKill] = await db.sql<{ n: number }[]>`
      SELECT COUNT(*)::int AS n FROM deliveries WHERE status = 'pending' AND lease_owner IS NOT NULL`;
    const killedAt = Date.now();
    const exit = await victim.crash();
    expect(exit.signal).toBe('SIGKILL');
    await sleep(1000);
    const restartStarted = Date.now();
    nodes[victimIndex] = await startPgNode({ databaseUrl: db.url, port: victim.port, env: NODE_ENV });
    const restartMs = Date.now() - restartStarted;
    const victimAckedBeforeRestart = (result.perNode[victimIndex] as NodeCounts).acknowledged;
    await sleep(2500);
    stopped = true;
    await loadDone;
    const victimAckedAfterRestart =
      (result.perNode[victimIndex] as NodeCounts).acknowledged - victimAckedBeforeRestart;
    const loadEnded = Date.now();

    expect(Object.fromEntries(result.unexpected), 'answers other than 200').toEqual({});
    for (const [i, counts] of result.perNode.entries()) {
      expect(counts.acknowledged, `node ${i} acknowledged nothing`).toBeGreaterThan(0);
    }
    expect(victimAckedAfterRestart, 'requests acknowledged by the restarted node').toBeGreaterThan(0);

    const anyUrl = urls[(victimIndex + 1) % NODES] as string;
    await waitFor(
      'every pending inbox row to be processed',
      async () => ((await inboxDrained(anyUrl)) ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const events = await allEvents(anyUrl, sourceId);
    const eventIds = new Set(events.map((e) => e.id));
    const { missing, duplicated, unknown } = checkStored(events, result.acknowledgedIds, result.sentIds);

    // A delivery leased by the killed node comes back when its lease expires (LEASE_MS after the claim).
    const deliveries = await waitFor(
      'every delivery to succeed',
      async () => {
        const list = await allDeliveries(anyUrl, endpointId);
        return list.length >= events.length && list.every((d) => d.status === 'succeeded') ? list : undefined;
      },
      { timeoutMs: Math.max(10_000, LEASE_MS + 15_000 - (Date.now() - killedAt)), intervalMs: 250 },
    ).catch(async (err: unknown) => {
      const list = await allDeliveries(anyUrl, endpointId);
      const byStatus = new Map<string, number>();
      for (const d of list) byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1);
      throw new Error(
        `${String(err)}; ${list.length} deliveries for ${events.length} events: ${JSON.stringify(Object.fromEntries(byStatus))}`,
      );
    });
    const allSucceededAt = Date.now();

    const twice = [...eventIds].filter((id) => target.byId(id).length > 1);
    const twiceAfter2xx = twice.filter((id) => is2xx(target.byId(id)[0] as ReceivedRequest));
    const notReceived = [...eventIds].filter((id) => target.byId(id).length === 0);
    const completedLate = await db.sql<{ n: number }[]>`
      SELECT COUNT(*)::int AS n FROM deliveries WHERE completed_at >= ${killedAt + LEASE_MS - 2000}`;

    console.log(
      `multi-node: ${result.acknowledgedRequests} requests acknowledged (${result.acknowledgedIds.size} events) ` +
        `over ${((loadEnded - started) / 1000).toFixed(1)} s; ${events.length} events stored ` +
        `(${events.length - result.acknowledgedIds.size} without an acknowledgement); ` +
        `${deliveries.length} deliveries, ${target.requests.length} requests at the receiver, ` +
        `${twice.length} events seen twice or more (${twiceAfter2xx.length} after a 2xx mailhook had not recorded, ` +
        `${twice.length - twiceAfter2xx.length} after an abandoned attempt)`,
    );
    console.log(
      `multi-node: per node (requests sent / acknowledged / failed; p50 / p99 ms of acknowledged ones): ${result.perNode
        .map(
          (c, i) =>
            `node ${i}${i === victimIndex ? ' (killed)' : ''} ${c.sent}/${c.acknowledged}/${c.failed}; ` +
            `${percentile(c.latencies, 50).toFixed(0)}/${percentile(c.latencies, 99).toFixed(0)} ms`,
        )
        .join(', ')}`,
    );
    console.log(
      `multi-node: ${leasedAtKill?.n} deliveries under lease just before the SIGKILL; victim restarted on ` +
        `port ${victim.port} in ${restartMs} ms and acknowledged ${victimAckedAfterRestart} requests after it; every delivery succeeded ${((allSucceededAt - killedAt) / 1000).toFixed(1)} s ` +
        `after the kill (${((allSucceededAt - loadEnded) / 1000).toFixed(1)} s after the load ended); ` +
        `${completedLate[0]?.n} deliveries completed only after the lease (${LEASE_MS} ms) could expire`,
    );

    // Ingest: exactly once.
    expect(missing, 'acknowledged events missing').toEqual([]);
    expect(duplicated, 'events stored more than once').toEqual([]);
    expect(unknown, 'events nobody sent').toEqual([]);
    expect(eventIds.size).toBe(events.length);

    // Delivery: one per event, each received at least once, every request correctly signed.
    expect(deliveries).toHaveLength(events.length);
    expect(new Set(deliveries.map((d) => d.event_id))).toEqual(eventIds);
    expect(notReceived, 'stored events that never reached the receiver').toEqual([]);
    const badSignatures = target.requests.filter((r) => !verifiedByBoth(r)).map((r) => r.webhookId);
    expect(badSignatures, 'requests whose signature did not verify').toEqual([]);

    // A delivery is succeeded only after a 2xx the receiver really sent for its event, and no more ok
    // attempts are recorded than 2xx answers were written.
    const attempts = await db.sql<{ id: string; event_id: string; status: string; ok: number }[]>`
      SELECT d.id, d.event_id, d.status, COUNT(a.id) FILTER (WHERE a.ok = 1)::int AS ok
      FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
      GROUP BY d.id, d.event_id, d.status`;
    const unbacked: string[] = [];
    for (const row of attempts) {
      const answered2xx = target.byId(row.event_id).filter(is2xx).length;
      if ((row.status === 'succeeded' && answered2xx === 0) || row.ok > answered2xx) {
        unbacked.push(
          `${row.id} (${row.event_id}): ${row.status}, ${row.ok} ok attempts, ${answered2xx} 2xx`,
        );
      }
    }
    expect(unbacked, 'deliveries recorded as succeeded without a 2xx from the receiver').toEqual([]);

    await Promise.all(nodes.map((n) => n.stop(5000)));
  }, 80_000);

  it('three nodes started at the same instant on an empty database all come up healthy and apply each migration exactly once', async () => {
    for (let round = 1; round <= 3; round++) {
      // Read per round: the files on disk are what each node applies at start.
      const expected = readdirSync(join(REPO_ROOT, 'src', 'store', 'migrations', 'postgres'))
        .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
        .map((file) => Number(file.slice(0, 3)))
        .sort((a, b) => a - b);
      expect(expected.length).toBeGreaterThan(0);
      const db = await database();
      const ports = await freePorts(NODES);
      const t0 = Date.now();
      // Spawned in the same turn of the event loop: all three race for the migration lock.
      const nodes = ports.map((port) =>
        spawnPgNode({ databaseUrl: db.url, port, env: { MAILHOOK_LOG_LEVEL: 'info' } }),
      );
      const outcomes = await Promise.allSettled(nodes.map((n) => n.ready));
      const readyMs = Date.now() - t0;
      const failures = outcomes
        .map((o, i) => (o.status === 'rejected' ? `node ${i}: ${String(o.reason)}` : null))
        .filter((f) => f !== null);
      expect(failures, 'nodes that did not come up').toEqual([]);

      for (const node of nodes) {
        const health = await api<{ status: string }>(node.url, '/healthz');
        expect(health.status).toBe(200);
        const sources = await api<{ data: unknown[] }>(node.url, '/v1/sources');
        expect(sources.status, `GET /v1/sources on ${node.url}`).toBe(200);
      }

      const versions = await db.sql<{ version: number; n: number }[]>`
        SELECT version, COUNT(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version`;
      const [keys] = await db.sql<{ n: number }[]>`SELECT COUNT(*)::int AS n FROM api_keys`;
      const appliedBy = nodes.map((n) =>
        n
          .stdout()
          .split('\n')
          .filter((line) => line.includes('"migrations applied"'))
          .map((line) => (JSON.parse(line) as { applied: number[] }).applied),
      );
      const errors = nodes.flatMap((n) =>
        n
          .stdout()
          .split('\n')
          .filter((line) => /"level":(50|60)/.test(line)),
      );
      console.log(
        `concurrent start round ${round}: 3 nodes ready in ${readyMs} ms; schema_migrations ` +
          `${JSON.stringify(versions.map((v) => [v.version, v.n]))}; migrations applied by node: ` +
          `${JSON.stringify(appliedBy)}; api_keys rows: ${keys?.n}`,
      );

      expect(versions.map((v) => v.version)).toEqual(expected);
      expect(versions.every((v) => v.n === 1)).toBe(true);
      // Exactly one node applied the migrations, all of them; the others found nothing to do.
      expect(appliedBy.flat(), 'migration runs across the three nodes').toEqual([expected]);
      expect(keys?.n, 'the shared MAILHOOK_API_KEY is stored once').toBe(1);
      expect(errors, 'error logs during start-up').toEqual([]);

      await Promise.all(nodes.map((n) => n.stop(5000)));
      for (const node of nodes) expect(node.hasExited()).toBe(true);
    }
  }, 45_000);
});

if (!available) {
  describe('several nodes on one PostgreSQL database', () => {
    it.skip('needs PostgreSQL at MAILHOOK_TEST_DATABASE_URL (never skipped in CI)', () => {});
  });
}
