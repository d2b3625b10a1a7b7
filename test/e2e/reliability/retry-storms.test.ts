import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../../helpers/app.js';
import {
  allEvents,
  createSendGridSource,
  createTestDatabase,
  inboxDrained,
  removeNodeDirs,
  startPgNode,
  type TestDatabase,
} from '../../helpers/pg-database.js';
import { postgresAvailable } from '../../helpers/postgres.js';
import { api, killAll, removeDir, startServer, tempDataDir, waitFor } from '../../helpers/process.js';
import { postBatch, tally } from '../../helpers/reliability.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * Provider retry storms: a provider that times out waiting for us (or just retries eagerly) sends
 * the same batch many times at once, and again hours later. Every event must be stored once, and
 * the duplicates must be visible: each inbox row's duplicate_count and the
 * mailhook_events_duplicates_total metric.
 */

const COPIES = 10;
const BATCHES = 12;
const PER_BATCH = 8;
/** Events each batch shares with the next one (providers regroup events when they retry). */
const OVERLAP = 3;

interface InboxView {
  id: string;
  status: string;
  event_count: number;
  duplicate_count: number;
}

const pgAvailable = await postgresAvailable();
const dirs: string[] = [];
const databases: TestDatabase[] = [];
let apps: TestApp[] = [];

afterEach(async () => {
  await killAll();
  for (const app of apps) await app.close();
  apps = [];
});

afterAll(async () => {
  for (const dir of dirs) removeDir(dir);
  for (const db of databases) await db.drop();
  removeNodeDirs();
});

async function allInbox(url: string): Promise<InboxView[]> {
  const rows: InboxView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await api<{ data: InboxView[]; next_cursor: string | null }>(
      url,
      `/v1/inbox?limit=500${query}`,
    );
    expect(page.status).toBe(200);
    rows.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return rows;
}

async function metricValue(url: string, name: string): Promise<number> {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** Overlapping batches: batch i repeats the last OVERLAP events of batch i - 1. */
function overlappingBatches(): Record<string, unknown>[][] {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < BATCHES; i++) {
    const carried = i === 0 ? [] : (batches[i - 1] as Record<string, unknown>[]).slice(-OVERLAP);
    batches.push([...carried, ...sendGridEvents(PER_BATCH - carried.length)]);
  }
  return batches;
}

async function stormAgainst(url: string, label: string): Promise<string> {
  const signer = sendGridSigner();
  const sourceId = await createSendGridSource(url, signer, 'retry storm');
  const batches = overlappingBatches();
  const unique = new Set(batches.flat().map((e) => String(e.sg_event_id)));
  const sentEvents = batches.reduce((n, b) => n + b.length, 0);

  const busyBefore = await metricValue(url, 'mailhook_pipeline_thread_busy_seconds_total');
  // Storm: every copy of every batch at once (signed once, as a provider resends the same request).
  const bodies = batches.map((events) => sendGridBody(events));
  const storm = await Promise.all(
    bodies.flatMap((body, i) =>
      Array.from({ length: COPIES }, () =>
        postBatch(url, sourceId, signer, batches[i] as Record<string, unknown>[], { body }),
      ),
    ),
  );
  await waitFor('the storm to be processed', async () => ((await inboxDrained(url)) ? true : undefined), {
    timeoutMs: 30_000,
  });
  // Later: the provider tries again (newly signed) after everything was processed.
  const later = await Promise.all(batches.map((events) => postBatch(url, sourceId, signer, events)));
  await waitFor(
    'the late retries to be processed',
    async () => ((await inboxDrained(url)) ? true : undefined),
    {
      timeoutMs: 30_000,
    },
  );

  const answers = tally([...storm, ...later], (a) => a.status);
  const events = (await allEvents(url)).filter((e) => e.data.source_id === sourceId);
  const perKey = tally(events, (e) => String(e.data.provider_event_id));
  const rows = await allInbox(url);
  const requests = storm.length + later.length;
  const received = (COPIES + 1) * sentEvents;
  const counted = rows.reduce((n, r) => n + r.event_count, 0);
  const duplicates = rows.reduce((n, r) => n + r.duplicate_count, 0);
  const metric = await metricValue(url, 'mailhook_events_duplicates_total');
  // The thread that committed and processed the storm reports the time it spent doing so.
  const busy = (await metricValue(url, 'mailhook_pipeline_thread_busy_seconds_total')) - busyBefore;
  console.log(
    `retry storm (${label}): ${BATCHES} overlapping batches × ${COPIES} concurrent copies + 1 late copy = ` +
      `${requests} requests ${JSON.stringify(answers)}, ${received} events received, ${unique.size} distinct; ` +
      `${events.length} stored; inbox rows count ${counted} new + ${duplicates} duplicates; ` +
      `mailhook_events_duplicates_total ${metric}; pipeline thread busy ${busy.toFixed(3)} s over the storm`,
  );

  expect(answers).toEqual({ '200': requests });
  expect(events).toHaveLength(unique.size);
  expect(Object.values(perKey).filter((n) => n !== 1)).toEqual([]);
  expect(rows.filter((r) => r.status !== 'processed')).toEqual([]);
  expect(rows).toHaveLength(requests);
  expect(counted).toBe(unique.size);
  expect(duplicates).toBe(received - unique.size);
  expect(metric, 'mailhook_events_duplicates_total').toBe(received - unique.size);
  expect(busy, 'mailhook_pipeline_thread_busy_seconds_total, the storm').toBeGreaterThan(0);
  return sourceId;
}

describe('provider retry storms against a real server', () => {
  it('stores each event of 10 concurrent copies and a late copy once, and counts every duplicate (SQLite)', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const server = await startServer({ dataDir, env: { MAILHOOK_LOG_LEVEL: 'warn' } });
    await stormAgainst(server.url, 'SQLite');
    await server.stop();
  }, 60_000);

  it.runIf(pgAvailable)(
    'stores each event of 10 concurrent copies and a late copy once, and counts every duplicate (PostgreSQL)',
    async () => {
      const db = await createTestDatabase('mh_rel_storm');
      databases.push(db);
      const node = await startPgNode({ databaseUrl: db.url, env: { MAILHOOK_LOG_LEVEL: 'warn' } });
      await stormAgainst(node.url, 'PostgreSQL');
      await node.stop();
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------------
// Hours later, on a controlled clock (in process: a spawned server's clock cannot be moved).

const MAILGUN_KEY = 'storm-signing-key-0123456789abcdef';
const HOUR = 3600_000;

function mailgunRequest(eventData: Record<string, unknown>, at: Date, token: string): string {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', MAILGUN_KEY)
    .update(timestamp + token)
    .digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

describe('provider retries hours apart, on a controlled clock', () => {
  it('stores a SendGrid batch once when it comes back newly signed 7 hours later, and counts the copy as duplicates', async () => {
    let clock = new Date('2026-11-26T08:00:00Z');
    const app = await testApp({}, () => clock);
    apps.push(app);
    const signer = sendGridSigner();
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'storm', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    const sourceId = (created.json() as { id: string }).id;
    const events = sendGridEvents(5);
    const send = () => {
      const body = sendGridBody(events);
      return app.server.inject({
        method: 'POST',
        url: `/ingest/${sourceId}`,
        headers: signer.headers(body, Math.floor(clock.getTime() / 1000)),
        payload: body,
      });
    };
    const storm = await Promise.all(Array.from({ length: COPIES }, send));
    expect(storm.map((r) => r.statusCode)).toEqual(Array(COPIES).fill(200));
    await app.pipeline.runUntilIdle();
    clock = new Date(clock.getTime() + 7 * HOUR);
    expect((await send()).statusCode).toBe(200);
    await app.pipeline.runUntilIdle();

    const rows = (await app.store.listInbox({ limit: 100 })).items;
    expect(rows).toHaveLength(COPIES + 1);
    expect(rows.reduce((n, r) => n + r.eventCount, 0)).toBe(5);
    expect(rows.reduce((n, r) => n + r.duplicateCount, 0)).toBe(COPIES * 5);
    const stored = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    expect((stored.json() as { data: unknown[] }).data).toHaveLength(5);
  });

  it('accepts a Mailgun retry that keeps its original signature for 8 hours, stores it once, and refuses it past the 9-hour window', async () => {
    let clock = new Date('2026-11-26T08:00:00Z');
    const app = await testApp({}, () => clock);
    apps.push(app);
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'storm', provider: 'mailgun', config: { signing_key: MAILGUN_KEY } },
    });
    const sourceId = (created.json() as { id: string }).id;
    const fixture = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../fixtures/mailgun/delivered.json'), 'utf8'),
    ) as { 'event-data': Record<string, unknown> };
    const body = mailgunRequest(fixture['event-data'], clock, 'a'.repeat(50));
    const send = () =>
      app.server.inject({
        method: 'POST',
        url: `/ingest/${sourceId}`,
        headers: { 'content-type': 'application/json' },
        payload: body,
      });

    const storm = await Promise.all(Array.from({ length: COPIES }, send));
    expect(storm.map((r) => r.statusCode)).toEqual(Array(COPIES).fill(200));
    clock = new Date(clock.getTime() + 8 * HOUR);
    const eightHoursLater = await send();
    clock = new Date(clock.getTime() + 2 * HOUR);
    const tenHoursLater = await send();
    await app.pipeline.runUntilIdle();

    const rows = (await app.store.listInbox({ limit: 100 })).items;
    const stored = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const eventCount = (stored.json() as { data: unknown[] }).data.length;
    console.log(
      `mailgun retries: ${COPIES} concurrent copies ${JSON.stringify(tally(storm, (r) => r.statusCode))}, ` +
        `same signature 8 h later ${eightHoursLater.statusCode}, 10 h later ${tenHoursLater.statusCode}; ` +
        `${rows.length} inbox rows, ${eventCount} event stored, ${rows.reduce((n, r) => n + r.duplicateCount, 0)} duplicates counted`,
    );
    expect(eightHoursLater.statusCode).toBe(200);
    expect(tenHoursLater.statusCode).toBe(401);
    expect(rows).toHaveLength(COPIES + 1);
    expect(eventCount).toBe(1);
    expect(rows.reduce((n, r) => n + r.duplicateCount, 0)).toBe(COPIES);
  });
});
