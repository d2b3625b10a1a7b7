import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  freePorts,
  removeNodeDirs,
  startPgNode,
  type TestDatabase,
} from '../helpers/pg-database.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { api, killAll, removeDir, startServer, tempDataDir, waitFor } from '../helpers/process.js';
import { type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';
import { type StuckReceiver, startStuckReceiver } from '../helpers/stuck-receiver.js';

/**
 * Stuck endpoints must not starve healthy ones. Twelve endpoints accept the connection and never
 * answer (each attempt holds its slot for the whole default 15 s timeout); with the default pool of
 * 200 and 20 per endpoint they could take every slot. A healthy endpoint beside them must still get
 * its 100 events within 5 s: on a SQLite server and on two PostgreSQL nodes sharing one database.
 */

const STUCK = 12;
const EVENTS = 100;
const DEADLINE_MS = 5000;
/** Defaults for everything that matters here: 15 s timeout, pool of 200, 20 per endpoint. */
const ENV = { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_LOG_LEVEL: 'warn' };

let cleanups: Array<() => Promise<unknown>> = [];
const dirs: string[] = [];
const databases: TestDatabase[] = [];

afterEach(async () => {
  const steps = cleanups.reverse();
  cleanups = [];
  for (const step of steps) await step().catch(() => undefined);
});

afterAll(async () => {
  await killAll();
  for (const db of databases.splice(0)) await db.drop();
  for (const dir of dirs) removeDir(dir);
  removeNodeDirs();
});

/** The base URLs of the nodes under test (one for SQLite); each is SIGKILLed after the test. */
async function sqliteServer(): Promise<string[]> {
  const dataDir = tempDataDir();
  dirs.push(dataDir);
  const server = await startServer({ dataDir, env: ENV });
  cleanups.push(() => server.crash());
  return [server.url];
}

async function postgresNodes(count: number): Promise<string[]> {
  const db = await createTestDatabase('mh_fair');
  databases.push(db);
  const urls: string[] = [];
  for (const port of await freePorts(count)) {
    const node = await startPgNode({ databaseUrl: db.url, port, env: ENV });
    cleanups.push(() => node.crash());
    urls.push(node.url);
  }
  return urls;
}

interface Setup {
  healthy: Receiver;
  stuck: StuckReceiver[];
}

/** STUCK stuck endpoints (subscribed to `stuckTypes`) and one healthy one (`healthyTypes`). */
async function endpoints(urls: string[], stuckTypes: string[], healthyTypes: string[]): Promise<Setup> {
  const stuck: StuckReceiver[] = [];
  for (let i = 0; i < STUCK; i++) {
    const receiver = await startStuckReceiver();
    cleanups.push(() => receiver.close());
    stuck.push(receiver);
    const created = await api(urls[i % urls.length] as string, '/v1/endpoints', {
      method: 'POST',
      body: { url: receiver.url, event_types: stuckTypes, description: `stuck ${i}` },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
  const healthy = await startReceiver();
  cleanups.push(() => healthy.close());
  const created = await api<{ secret: string }>(urls[0] as string, '/v1/endpoints', {
    method: 'POST',
    body: { url: healthy.url, event_types: healthyTypes, description: 'healthy' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  healthy.secrets.push(created.body.secret);
  return { healthy, stuck };
}

/** Publishes EVENTS events of `type` in one batch request; their ids. */
async function publishBatch(url: string, type: string): Promise<string[]> {
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    type,
    data: { invoice: `inv_${i}`, amount: 100 + i },
  }));
  const created = await api<{ data: Array<{ event: { id: string } }> }>(url, '/v1/events', {
    method: 'POST',
    body: { events },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.data).toHaveLength(EVENTS);
  return created.body.data.map((item) => item.event.id);
}

/** Waits until the healthy receiver has every id, DEADLINE_MS after `started` at most; how long it took. */
async function timeToAll(healthy: Receiver, ids: string[], started: number): Promise<number> {
  await waitFor(
    `the healthy endpoint to receive all ${ids.length} events`,
    async () => {
      const seen = healthy.ids();
      return ids.every((id) => seen.has(id)) ? true : undefined;
    },
    { timeoutMs: DEADLINE_MS - (performance.now() - started), intervalMs: 10 },
  ).catch((err: unknown) => {
    const seen = healthy.ids();
    const got = ids.filter((id) => seen.has(id)).length;
    throw new Error(`${String(err)}: it had ${got} of ${ids.length}`);
  });
  return Math.max(...ids.map((id) => healthy.byId(id)[0]?.receivedAt ?? Number.POSITIVE_INFINITY)) - started;
}

function hanging(stuck: StuckReceiver[]): number {
  return stuck.reduce((sum, r) => sum + r.open(), 0);
}

/** Events routed to every endpoint at once: the stuck ones fill up while the healthy one drains. */
async function alongside(urls: string[], label: string): Promise<void> {
  const { healthy, stuck } = await endpoints(urls, [], []);
  const started = performance.now();
  const ids = await publishBatch(urls[0] as string, 'invoice.paid');
  const ms = await timeToAll(healthy, ids, started);
  console.log(
    `fairness (${label}, published to all): the healthy endpoint had all ${EVENTS} events after ` +
      `${ms.toFixed(0)} ms; ${hanging(stuck)} requests hanging at ${STUCK} stuck endpoints`,
  );
  expect(ms).toBeLessThan(DEADLINE_MS);
  expect(healthy.requests.filter((r) => !verifiedByBoth(r))).toEqual([]);
  // The stuck endpoints were really hit, and are still holding what they got.
  expect(stuck.every((r) => r.accepted() > 0)).toBe(true);
}

/** The stuck endpoints hold all they may before the healthy endpoint has any work at all. */
async function afterSaturation(urls: string[], label: string): Promise<void> {
  const { healthy, stuck } = await endpoints(urls, ['backlog.queued'], ['invoice.paid']);
  const backlog = Array.from({ length: 300 }, (_, i) => ({ type: 'backlog.queued', data: { n: i } }));
  const queued = await api(urls[0] as string, '/v1/events', { method: 'POST', body: { events: backlog } });
  expect(queued.status, JSON.stringify(queued.body)).toBe(201);
  // Each node's pool is 200 (the default); its stuck endpoints take at least 150 slots of it.
  const held = await waitFor(
    'the stuck endpoints to hold most of every pool',
    async () => (hanging(stuck) >= 150 * urls.length ? hanging(stuck) : undefined),
    { timeoutMs: 10_000, intervalMs: 10 },
  );
  const started = performance.now();
  const ids = await publishBatch(urls[0] as string, 'invoice.paid');
  const ms = await timeToAll(healthy, ids, started);
  console.log(
    `fairness (${label}, stuck endpoints saturated first): ${held} requests hanging before, ` +
      `${hanging(stuck)} after; the healthy endpoint had all ${EVENTS} events after ${ms.toFixed(0)} ms`,
  );
  expect(ms).toBeLessThan(DEADLINE_MS);
  // However many stuck endpoints there are, they never hold a whole pool: part of it stays free.
  expect(hanging(stuck)).toBeLessThan(200 * urls.length);
}

describe('a healthy endpoint beside 12 stuck ones (SQLite server)', () => {
  it(`gets ${EVENTS} events published to every endpoint within 5 s`, async () => {
    await alongside(await sqliteServer(), 'SQLite');
  }, 30_000);

  it(`gets its ${EVENTS} events within 5 s when the stuck ones took their slots first`, async () => {
    await afterSaturation(await sqliteServer(), 'SQLite');
  }, 30_000);
});

const available = await postgresAvailable();

describe.runIf(available)('a healthy endpoint beside 12 stuck ones (two PostgreSQL nodes)', () => {
  it(`gets ${EVENTS} events published to every endpoint within 5 s`, async () => {
    await alongside(await postgresNodes(2), 'PostgreSQL, 2 nodes');
  }, 45_000);

  it(`gets its ${EVENTS} events within 5 s when the stuck ones took their slots first`, async () => {
    await afterSaturation(await postgresNodes(2), 'PostgreSQL, 2 nodes');
  }, 45_000);
});
