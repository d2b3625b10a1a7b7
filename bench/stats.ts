import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CanonicalEvent } from '../src/events.js';
import { newId } from '../src/ids.js';
import { PostgresStore, SqliteStore } from '../src/store/index.js';
import { connect } from '../src/store/postgres/connection.js';
import * as pgRollup from '../src/store/postgres/stats-rollup.js';
import * as sqliteRollup from '../src/store/sqlite/stats-rollup.js';
import type { EventQuery, NewEvent, StatsGroupBy, StatsQuery, StatsRow, Store } from '../src/store/store.js';
import { createBenchDatabase } from './pg.js';
import { pad } from './report.js';

/**
 * Queries over a large generated event set. GET /v1/stats (`eventStats`, from the hourly rollups)
 * for each grouping and three windows, against the same counts taken straight from the events in the
 * same run (the query the stats ran before the rollups), with a check that both answers are equal;
 * on SQLite and, when it answers, PostgreSQL. And GET /v1/events filtered by recipient, type and
 * message id (a page of 50, as the API's default) against an unfiltered page (SQLite).
 */
const TYPES = [
  'email.sent',
  'email.delivered',
  'email.delivered',
  'email.opened',
  'email.clicked',
  'email.bounced',
];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example'];
const HOUR = 3_600_000;
const DAY = 86_400_000;
const GROUPINGS: StatsGroupBy[] = ['type', 'provider', 'source', 'day', 'recipient_domain'];
/**
 * Events per transaction while filling. 2,000 rather than 10,000: a batch that large spent a quarter
 * of the fill's time in garbage collection, and the pipeline's own batches are at most 1,000 rows.
 */
const BATCH = 2_000;

interface StatsTiming {
  /** eventStats: whole hours from the rollups, the partial ones from the events. */
  ms: number;
  /** The same counts straight from the events. */
  directMs: number;
  ratioToDirect: number;
  identical: boolean;
}

export interface StoreStats {
  store: 'sqlite' | 'postgres';
  /**
   * Storing the events through the pipeline's batch (processInbox), rollups included; with
   * PostgreSQL, the two stores fill side by side.
   */
  insertSeconds: number;
  /** SQLite: the database file after a checkpoint; PostgreSQL: events and rollups, indexes included. */
  bytesPerEvent: number;
  windows: Record<string, Record<StatsGroupBy, StatsTiming>>;
}

export interface StatsBench {
  events: number;
  stores: StoreStats[];
  /** listEvents, first page of 50 newest first; the baseline is the same page without a filter. */
  eventList: {
    baselineMs: number;
    filters: Record<string, { ms: number; rows: number; ratioToUnfiltered: number }>;
  };
}

const PAGE = 50;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round2 = (n: number) => Number(n.toFixed(2));

async function time(fn: () => Promise<unknown>, runs = 3): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    all.push(performance.now() - t);
  }
  return median(all);
}

function generated(total: number, start: number, done: number): NewEvent[] {
  return Array.from({ length: Math.min(BATCH, total - done) }, (_, i) => {
    const n = done + i;
    const event: CanonicalEvent = {
      id: newId('event'),
      type: TYPES[n % TYPES.length] as string,
      timestamp: new Date(start + Math.floor((n / total) * 30 * DAY)).toISOString(),
      data: {
        provider: n % 3 === 0 ? 'sendgrid' : 'ses',
        source_id: n % 3 === 0 ? 'src_a' : 'src_b',
        provider_event_id: null,
        message_id: `m${Math.floor(n / 4)}`,
        recipient: `u${n % 50_000}@${DOMAINS[n % DOMAINS.length]}`,
        user_agent: null,
        ip: null,
        tags: [],
        metadata: {},
        received_at: new Date().toISOString(),
        raw: null,
      },
    };
    return { event, dedupKey: event.id };
  });
}

/** Stores the events as the pipeline does: one inbox row per batch of BATCH, one transaction each. */
async function fill(store: Store, total: number, start: number): Promise<number> {
  const started = performance.now();
  for (let done = 0; done < total; done += BATCH) {
    const events = generated(total, start, done);
    const id = newId('inbox');
    await store.appendInbox([
      {
        id,
        sourceId: 'src_a',
        provider: 'sendgrid',
        receivedAt: new Date(),
        method: 'POST',
        path: '/ingest/src_a',
        query: '',
        headers: {},
        body: Buffer.from('[]'),
      },
    ]);
    await store.processInbox(10, (rows) =>
      rows.map((row) => ({
        inboxId: row.id,
        kind: 'processed',
        events: row.id === id ? events : [],
        notes: [],
      })),
    );
  }
  return Number(((performance.now() - started) / 1000).toFixed(1));
}

/** The whole set; days 3 to 27 of one source, cut mid-hour at both ends; the last 24 hours. */
function windows(start: number): Record<string, Omit<StatsQuery, 'groupBy'>> {
  const end = start + 30 * DAY;
  return {
    'all 30 days': { since: new Date(start), until: new Date(start + 31 * DAY) },
    'days 3-27, src_b': {
      since: new Date(start + 3 * DAY + 17 * 60_000 + 23_123),
      until: new Date(start + 27 * DAY + 5 * HOUR + 42 * 60_000 + 7_500),
      sourceId: 'src_b',
    },
    'last 24 h': { since: new Date(end - DAY), until: new Date(end) },
  };
}

async function timeStats(
  store: Store,
  direct: (query: StatsQuery) => Promise<StatsRow[]>,
  start: number,
): Promise<StoreStats['windows']> {
  const result: StoreStats['windows'] = {};
  for (const [name, window] of Object.entries(windows(start))) {
    const timings = {} as Record<StatsGroupBy, StatsTiming>;
    for (const groupBy of GROUPINGS) {
      const query = { ...window, groupBy };
      let rows: StatsRow[] = [];
      const ms = await time(async () => {
        rows = await store.eventStats(query);
      }, 5);
      let expected: StatsRow[] = [];
      // One run: the direct count reads every event of the window and takes seconds.
      const directMs = await time(async () => {
        expected = await direct(query);
      }, 1);
      timings[groupBy] = {
        ms: round2(ms),
        directMs: Math.round(directMs),
        ratioToDirect: Number((ms / Math.max(0.01, directMs)).toFixed(4)),
        identical: rows.length > 0 && JSON.stringify(rows) === JSON.stringify(expected),
      };
    }
    result[name] = timings;
  }
  return result;
}

/**
 * Called once a store holds every event; its queries are timed when the promise resolves, so the
 * other store's fill, running beside it, is over by then (statsBench).
 */
export type Filled = (insertSeconds: number) => Promise<void>;

export interface SqliteStatsResult {
  stats: StoreStats;
  list: StatsBench['eventList'];
}

export async function sqliteStats(total: number, start: number, filled: Filled): Promise<SqliteStatsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-stats-'));
  const file = join(dir, 'mailhook.db');
  const store = new SqliteStore({ filename: file });
  let db: Database.Database | undefined;
  try {
    await store.migrate();
    const insertSeconds = await fill(store, total, start);
    await filled(insertSeconds);
    // A second connection: the store keeps its own private.
    const reader = new Database(file);
    db = reader;
    reader.pragma('wal_checkpoint(TRUNCATE)');
    const stats: StoreStats = {
      store: 'sqlite',
      insertSeconds,
      bytesPerEvent: Math.round(statSync(file).size / total),
      windows: await timeStats(
        store,
        async (query) => sqliteRollup.selectStatsFromEvents(reader, query),
        start,
      ),
    };
    return { stats, list: await eventListBench(store, total, start) };
  } finally {
    db?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresStats(total: number, start: number, filled: Filled): Promise<StoreStats> {
  const database = await createBenchDatabase('stats');
  const store = new PostgresStore({ url: database.url });
  const sql = connect({ url: database.url, max: 1 });
  try {
    await store.migrate();
    const insertSeconds = await fill(store, total, start);
    // Before the gate, so the SQLite queries timed after it do not share the cores with it.
    await sql`VACUUM ANALYZE`;
    await filled(insertSeconds);
    const [size] = await sql<{ bytes: number }[]>`
      SELECT (pg_total_relation_size('events') + pg_total_relation_size('stats_rollup')
        + pg_total_relation_size('stats_rollup_domains'))::bigint AS bytes`;
    return {
      store: 'postgres',
      insertSeconds,
      bytesPerEvent: Math.round((size?.bytes ?? 0) / total),
      windows: await timeStats(store, (query) => pgRollup.selectStatsFromEvents(sql, query), start),
    };
  } finally {
    await sql.end({ timeout: 5 });
    await store.close();
    await database.drop();
  }
}

async function eventListBench(store: Store, total: number, start: number): Promise<StatsBench['eventList']> {
  // Values that exist in the generated set: recipients repeat every 50,000 events, message ids
  // cover 4 events each, bounces are 1 in 6.
  const someone = `u${12_345 % 50_000}@${DOMAINS[12_345 % DOMAINS.length]}`;
  const filters: Record<string, Omit<EventQuery, 'limit'>> = {
    recipient: { recipient: someone },
    type: { type: 'email.bounced' },
    message_id: { messageId: `m${Math.floor(total / 8)}` },
    'type+recipient': { type: TYPES[12_345 % TYPES.length] as string, recipient: someone },
    'type+last 24 h': { type: 'email.clicked', since: new Date(start + 29 * DAY) },
  };
  const baselineMs = await time(() => store.listEvents({ limit: PAGE }));
  const eventList: StatsBench['eventList'] = { baselineMs: round2(baselineMs), filters: {} };
  for (const [name, filter] of Object.entries(filters)) {
    let rows = 0;
    const ms = await time(async () => {
      rows = (await store.listEvents({ limit: PAGE, ...filter })).items.length;
    });
    eventList.filters[name] = {
      ms: round2(ms),
      rows,
      ratioToUnfiltered: round2(ms / Math.max(0.01, baselineMs)),
    };
  }
  return eventList;
}

/**
 * The SQLite half on a thread of its own (stats-sqlite.ts), so that the two stores' fills, most of
 * this section's time, run side by side on the two cores; their queries are timed one store at a
 * time, once both fills are over.
 */
function sqliteOnThread(total: number, start: number, filled: Filled): Promise<SqliteStatsResult> {
  return new Promise<SqliteStatsResult>((resolve, reject) => {
    const worker = new Worker(new URL('./stats-sqlite.js', import.meta.url), {
      workerData: { total, start },
    });
    worker.on('message', (message: StatsThreadMessage) => {
      if (message.type === 'filled') {
        filled(message.insertSeconds).then(
          () => worker.postMessage('time'),
          (err: unknown) => {
            reject(err);
            void worker.terminate();
          },
        );
        return;
      }
      // Settled by the answer, not by the thread's exit, which a handle left open would delay.
      resolve(message.result);
      void worker.terminate();
    });
    worker.once('error', reject);
    // After an answer this changes nothing; without one, the thread died.
    worker.once('exit', (code) => reject(new Error(`the SQLite stats thread exited with ${code}`)));
  });
}

export type StatsThreadMessage =
  | { type: 'filled'; insertSeconds: number }
  | { type: 'done'; result: SqliteStatsResult };

export async function statsBench(total: number, postgres: boolean): Promise<StatsBench> {
  // Not on an hour boundary, like any real "now".
  const start = Date.now() - 30 * DAY;
  if (!postgres) {
    const { stats, list } = await sqliteStats(total, start, async () => {});
    return { events: total, stores: [stats], eventList: list };
  }
  // Each store's timing waits for both fills; PostgreSQL's also for SQLite's timing. A store that
  // fails releases the other, so the section ends with the failure instead of waiting forever.
  let release = () => {};
  const bothFilled = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrived = 0;
  const arrive = () => {
    if (++arrived === 2) release();
    return bothFilled;
  };
  const sqliteRun = sqliteOnThread(total, start, arrive);
  sqliteRun.catch(release);
  const postgresRun = postgresStats(total, start, async () => {
    await arrive();
    await sqliteRun.catch(() => {});
  });
  postgresRun.catch(release);
  // Both to their end, so each store's cleanup (the thread's temporary directory, the PostgreSQL
  // database) runs even when the other failed.
  const [sqliteDone, postgresDone] = await Promise.allSettled([sqliteRun, postgresRun]);
  if (sqliteDone.status === 'rejected') throw sqliteDone.reason;
  if (postgresDone.status === 'rejected') throw postgresDone.reason;
  const { stats, list } = sqliteDone.value;
  return { events: total, stores: [stats, postgresDone.value], eventList: list };
}

export function printStats(stats: StatsBench): void {
  console.log(
    `\nqueries over ${stats.events.toLocaleString('en')} stored events; GET /v1/stats median of 5 against one count straight from the events:`,
  );
  for (const s of stats.stores) {
    console.log(
      `  ${s.store}: stored in ${s.insertSeconds} s through the pipeline's batches${stats.stores.length > 1 ? ' (both stores at once)' : ''}, ${s.bytesPerEvent} bytes per event`,
    );
    for (const [name, timings] of Object.entries(s.windows)) {
      for (const [groupBy, t] of Object.entries(timings)) {
        console.log(
          `    ${pad(name, 16, true)} group_by=${pad(groupBy, 17, true)} ${pad(t.ms.toFixed(2), 7)} ms = ${t.ratioToDirect}× the direct count (${t.directMs} ms)${t.identical ? '' : ' — ANSWERS DIFFER'}`,
        );
      }
    }
  }
  for (const [name, q] of Object.entries(stats.eventList.filters)) {
    console.log(
      `  GET /v1/events ${pad(name, 26, true)} ${pad(q.ms.toFixed(2), 7)} ms (${q.rows} rows) = ${q.ratioToUnfiltered}× an unfiltered page (${stats.eventList.baselineMs} ms)`,
    );
  }
}
