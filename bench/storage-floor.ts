import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { newId } from '../src/ids.js';
import { pipelineEffects } from '../src/pipeline/effects.js';
import { processRows } from '../src/pipeline/process-row.js';
import { SqliteStore } from '../src/store/index.js';
import { configureConnection } from '../src/store/sqlite/connection.js';
import { appendInboxRows } from '../src/store/sqlite/inbox-append.js';
import { cacheStatements } from '../src/store/sqlite/statement-cache.js';
import type { EndpointRecord, InboxInsert } from '../src/store/store.js';
import { endpointRecord } from '../test/helpers/endpoint-record.js';
import { postmarkRow } from '../test/helpers/postmark-row.js';
import { sendGridInboxRow } from '../test/helpers/store-probe.js';
import { postmarkRecord } from './postmark-record.js';
import { sendGridRecords } from './sendgrid-record.js';

/**
 * The storage floor of SQLite ingest: what SQLite alone costs to commit what mailhook's ingest commit
 * commits, for the single-event Postmark posts of the ingest rows (or, with `provider: 'sendgrid'`,
 * the SendGrid posts of `eventsPerPost` events), in groups of the size mailhook's own commits had in
 * the same bench run (synchronous=FULL, on disk).
 *
 * 1. mailhook's own ingest commit (`appendInboxRows`, inline processing, the pipeline's effects) runs
 *    once over a scratch database through a connection that records every statement it executes,
 *    with its values, transaction by transaction.
 * 2. Timed: the same function over fresh posts into a fresh database: mailhook's commit, parse to
 *    fsync, without the HTTP server, the thread hop or the acknowledgement.
 * 3. Timed: the recorded statements replayed with the same values into another fresh database, in
 *    the same transactions: SQLite's share, with none of mailhook's JavaScript.
 *
 * (3) is what SQLite costs for these rows, these indexes and this set of statements on one writer,
 * whoever writes the code around them; its wall time per post is the rate one SQLite connection
 * takes at this group size (larger groups cost less per post). The rows and indexes are what the
 * documented queries and guarantees need (exact dedup, message and recipient timelines, raw requests
 * kept); docs/benchmarks.md says which index serves what. With `endpoint`, every event is also routed
 * to one active endpoint, so the commit creates its delivery row too (pending; the server hands it
 * to the worker leased instead, the same row).
 *
 * Run as a tool (runTool): `node storage-floor.js '{"posts":20000,"group":16}'`; prints one JSON line.
 * `"synchronous":"OFF"` times the commit without its fsyncs (for profiling the JavaScript).
 */
export interface StorageFloorOptions {
  posts: number;
  group: number;
  /** One active endpoint for every event, so the commit also creates each event's delivery row. */
  endpoint?: boolean;
  /** FULL (what mailhook acknowledges with) unless an experiment asks for OFF: the commit without fsyncs. */
  synchronous?: 'FULL' | 'OFF';
  /** The posts of the ingest row measured: single-event Postmark (the default) or SendGrid batches. */
  provider?: 'postmark' | 'sendgrid';
  /** Events per SendGrid post (the ingest rows' 5 by default). */
  eventsPerPost?: number;
}

export interface StorageCost {
  cpuUsPerPost: number;
  wallUsPerPost: number;
}

export interface StorageFloor {
  posts: number;
  group: number;
  endpoint: boolean;
  provider: 'postmark' | 'sendgrid';
  eventsPerPost: number;
  /** mailhook's ingest commit function over the posts. */
  commit: StorageCost;
  /** The statements it executed, replayed. */
  statements: StorageCost & { perPost: number };
}

interface Call {
  sql: string;
  method: 'run' | 'get' | 'all';
  params: unknown[];
}

const copy = (value: unknown): unknown => {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value && typeof value === 'object' && !(value instanceof Date) && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  }
  return value;
};

/** `db` as seen through a recorder: every statement executed inside a transaction lands in `log`. */
function recording(db: Database.Database, log: Call[][]): Database.Database {
  let current: Call[] | null = null;
  const statement = (sql: string, target: Database.Statement): Database.Statement => {
    const proxy: Database.Statement = new Proxy(target, {
      get(stmt, prop) {
        const value = Reflect.get(stmt, prop, stmt);
        if (typeof value !== 'function') return value;
        if (prop === 'run' || prop === 'get' || prop === 'all' || prop === 'iterate') {
          return (...params: unknown[]) => {
            if (!current) throw new Error(`statement outside a transaction: ${sql}`);
            current.push({ sql, method: prop === 'iterate' ? 'all' : prop, params: params.map(copy) });
            return value.apply(stmt, params);
          };
        }
        return (...args: unknown[]) => {
          const result = value.apply(stmt, args);
          return result === stmt ? proxy : result;
        };
      },
    });
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => statement(sql, target.prepare(sql));
      if (prop === 'transaction') {
        return (fn: (...args: unknown[]) => unknown) =>
          target.transaction((...args: unknown[]) => {
            current = [];
            try {
              return fn(...args);
            } finally {
              log.push(current);
              current = null;
            }
          });
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

interface Setup {
  sourceId: string;
  endpoint: EndpointRecord | null;
  synchronous: 'FULL' | 'OFF';
  provider: 'postmark' | 'sendgrid';
  eventsPerPost: number;
}

/**
 * A migrated database with the bench's source (and endpoint), opened as the store opens its
 * connections. Processing does not check signatures, so the SendGrid source's key is a placeholder.
 */
async function freshDatabase(dir: string, name: string, setup: Setup): Promise<Database.Database> {
  const { sourceId, endpoint, synchronous } = setup;
  const filename = join(dir, name);
  const store = new SqliteStore({ filename });
  await store.migrate();
  if (endpoint) await store.createEndpoint(endpoint);
  const now = new Date();
  await store.createSource({
    id: sourceId,
    name: 'bench',
    provider: setup.provider,
    config:
      setup.provider === 'postmark'
        ? { basic_auth: { username: 'bench', password: 'bench' } }
        : { public_key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE' },
    enabled: true,
    state: {},
    createdAt: now,
    updatedAt: now,
  });
  await store.close();
  const db = new Database(filename);
  configureConnection(db, 'FULL');
  if (synchronous === 'OFF') db.pragma('synchronous = OFF');
  cacheStatements(db);
  return db;
}

const TABLES = [
  'inbox',
  'events',
  'deliveries',
  'suppressions',
  'stats_rollup',
  'stats_rollup_domains',
  'source_keys',
];

function countRows(db: Database.Database): Record<string, number> {
  return Object.fromEntries(
    TABLES.map((table) => [
      table,
      db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0,
    ]),
  );
}

let sent = 0;
/** Groups of posts as the route hands them to the store (headers as stored: credentials redacted). */
function groupsOf(setup: Setup, posts: number, group: number): InboxInsert[][] {
  const groups: InboxInsert[][] = [];
  for (let i = 0; i < posts; i += group) {
    groups.push(Array.from({ length: Math.min(group, posts - i) }, () => postOf(setup)));
  }
  return groups;
}

function postOf(setup: Setup): InboxInsert {
  if (setup.provider === 'postmark') {
    return postmarkRow(setup.sourceId, postmarkRecord(sent++), {
      'content-type': 'application/json',
      authorization: '[redacted]',
    });
  }
  const ts = Math.floor(Date.now() / 1000);
  // A P-256 signature in DER and base64 is about 96 characters.
  return sendGridInboxRow(setup.sourceId, sendGridRecords(setup.eventsPerPost, ts), {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': 'M'.repeat(96),
    'x-twilio-email-event-webhook-timestamp': String(ts),
  });
}

function timed(posts: number, work: () => void): StorageCost {
  const cpu = process.cpuUsage();
  const started = performance.now();
  work();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    cpuUsPerPost: Number(((used.user + used.system) / posts).toFixed(1)),
    wallUsPerPost: Number(((wall * 1000) / posts).toFixed(1)),
  };
}

export async function storageFloor(options: StorageFloorOptions): Promise<StorageFloor> {
  const group = Math.max(1, Math.round(options.group));
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-storage-floor-'));
  try {
    const sourceId = newId('source');
    const setup: Setup = {
      sourceId,
      endpoint: options.endpoint ? endpointRecord({ url: 'http://127.0.0.1:9/hooks' }) : null,
      synchronous: options.synchronous ?? 'FULL',
      provider: options.provider ?? 'postmark',
      eventsPerPost: options.provider === 'sendgrid' ? (options.eventsPerPost ?? 5) : 1,
    };
    const commit = (db: Database.Database, rows: InboxInsert[]) =>
      appendInboxRows(db, rows, { plan: processRows, effects: pipelineEffects(), now: new Date() });

    const log: Call[][] = [];
    const recorded = await freshDatabase(dir, 'recorded.db', setup);
    const recorder = recording(recorded, log);
    for (const rows of groupsOf(setup, options.posts, group)) commit(recorder, rows);

    const mailhook = await freshDatabase(dir, 'commit.db', setup);
    const fresh = groupsOf(setup, options.posts, group);
    const commitCost = timed(options.posts, () => {
      for (const rows of fresh) commit(mailhook, rows);
    });
    const committed = countRows(mailhook);
    mailhook.close();

    const replay = await freshDatabase(dir, 'replay.db', setup);
    // Prepared before the clock starts, as mailhook's statement cache holds them.
    const statements = new Map<string, Database.Statement>();
    for (const transaction of log) {
      for (const { sql } of transaction) if (!statements.has(sql)) statements.set(sql, replay.prepare(sql));
    }
    const replayCost = timed(options.posts, () => {
      for (const transaction of log) {
        replay
          .transaction(() => {
            for (const call of transaction) statements.get(call.sql)?.[call.method](...call.params);
          })
          .immediate();
      }
    });
    // The floor is only a floor if the replay stored what mailhook stores.
    const expected = JSON.stringify(countRows(recorded));
    for (const [name, counts] of [
      ['replay', countRows(replay)],
      ['timed commit', committed],
    ] as const) {
      if (JSON.stringify(counts) !== expected) {
        throw new Error(`the ${name} stored ${JSON.stringify(counts)}, the recorded commits ${expected}`);
      }
    }
    recorded.close();
    replay.close();
    const calls = log.reduce((n, transaction) => n + transaction.length, 0);
    return {
      posts: options.posts,
      group,
      endpoint: setup.endpoint !== null,
      provider: setup.provider,
      eventsPerPost: setup.eventsPerPost,
      commit: commitCost,
      statements: { ...replayCost, perPost: Number((calls / options.posts).toFixed(1)) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('storage-floor.js') && process.argv[2]) {
  const result = await storageFloor(JSON.parse(process.argv[2]) as StorageFloorOptions);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
