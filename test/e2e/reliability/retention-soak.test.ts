import { statSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createSendGridSource,
  createTestDatabase,
  startPgNode,
  type TestDatabase,
} from '../../helpers/pg-database.js';
import { postgresAvailable } from '../../helpers/postgres.js';
import { killAll, removeDir, startServer, tempDataDir } from '../../helpers/process.js';
import { type Receiver, startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, postBatch } from '../../helpers/reliability.js';
import { type SendGridSigner, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * Under a steady load with every retention at its shortest (1 minute), the store stops growing: once
 * the first rows expire, the pruner deletes about as much as arrives, and the space it frees is used
 * again (SQLite: pages on the freelist; PostgreSQL: dead tuples reclaimed by autovacuum).
 */

/**
 * Long enough for PostgreSQL to settle: its tables keep growing for 20-60 s after the first expiry
 * (about 75 s in) while VACUUM's freed heap space and B-tree pages come back into use, the later on a
 * loaded machine, and inside the full suite they may grow again for a while (a delivery backlog keeps
 * its events). The rate is taken over the flattest PRUNING_WINDOW_MS after SETTLED_MS.
 */
const SOAK_MS = 190_000;
const SETTLED_MS = 100_000;
const PRUNING_WINDOW_MS = 30_000;
const SAMPLE_MS = 5000;
/** One batch of 3 events every 30 ms: about 100 events/s per store. */
const BATCH_EVERY_MS = 30;

const RETENTION = {
  MAILHOOK_RETENTION_EVENTS: '1m',
  MAILHOOK_RETENTION_INBOX: '1m',
  MAILHOOK_RETENTION_ATTEMPTS: '1m',
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_LOG_LEVEL: 'warn',
};

interface Sample {
  atMs: number;
  bytes: number;
}

async function steadyLoad(
  url: string,
  sourceId: string,
  signer: SendGridSigner,
  stopped: () => boolean,
): Promise<number> {
  let acknowledged = 0;
  const started = Date.now();
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  while (!stopped()) {
    const due = started + sent * BATCH_EVERY_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sent++;
    const post = postBatch(url, sourceId, signer, sendGridEvents(3), { timeoutMs: 10_000 }).then((answer) => {
      if (answer.status === 200) acknowledged++;
    });
    inFlight.add(post);
    void post.finally(() => inFlight.delete(post));
    if (inFlight.size > 20) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return acknowledged;
}

/** Samples `size()` every SAMPLE_MS while the load runs. */
async function soak(
  url: string,
  sourceId: string,
  signer: SendGridSigner,
  size: () => Promise<number>,
): Promise<{ samples: Sample[]; acknowledged: number }> {
  const t0 = Date.now();
  const stopped = () => Date.now() - t0 >= SOAK_MS;
  const samples: Sample[] = [];
  const sampling = (async () => {
    while (!stopped()) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      samples.push({ atMs: Date.now() - t0, bytes: await size() });
    }
  })();
  const acknowledged = await steadyLoad(url, sourceId, signer, stopped);
  await sampling;
  return { samples, acknowledged };
}

/** Largest size in the first and the last third of the window after the first expiries (~75 s in). */
function growth(samples: Sample[]): { settled: number; last: number } {
  const after = samples.filter((s) => s.atMs >= 80_000);
  const third = Math.max(1, Math.floor(after.length / 3));
  const max = (list: Sample[]) => Math.max(...list.map((s) => s.bytes));
  return { settled: max(after.slice(0, third)), last: max(after.slice(-third)) };
}

/**
 * Bytes per second before anything expired (up to 60 s), and the least over any PRUNING_WINDOW_MS
 * after SETTLED_MS: without pruning, or without space coming back into use, every window grows as fast
 * as the filling did.
 */
function growthRate(samples: Sample[]): { filling: number; pruning: number } {
  const at = (ms: number) =>
    samples.reduce((best, s) => (Math.abs(s.atMs - ms) < Math.abs(best.atMs - ms) ? s : best));
  const perSecond = (a: Sample, b: Sample) => Math.max(0, (b.bytes - a.bytes) / ((b.atMs - a.atMs) / 1000));
  const windows = samples
    .filter((s) => s.atMs >= SETTLED_MS)
    .map((start) => [start, at(start.atMs + PRUNING_WINDOW_MS)] as const)
    .filter(([start, end]) => end.atMs - start.atMs >= PRUNING_WINDOW_MS - SAMPLE_MS / 2);
  return {
    filling: perSecond(at(5000), at(60_000)),
    pruning: Math.min(...windows.map(([start, end]) => perSecond(start, end))),
  };
}

function describeSamples(label: string, samples: Sample[], acknowledged: number): string {
  const kb = (b: number) => `${Math.round(b / 1024)} KB`;
  return `${label}: ${acknowledged} requests acknowledged; size every ${SAMPLE_MS / 1000} s: ${samples.map((s) => kb(s.bytes)).join(' ')}`;
}

describe('retention under a steady load', () => {
  let receiver: Receiver | null = null;
  let db: TestDatabase | null = null;
  const dirs: string[] = [];

  afterEach(async () => {
    await killAll();
  });

  afterAll(async () => {
    await receiver?.close();
    await db?.drop();
    for (const dir of dirs) removeDir(dir);
  });

  it(
    'keeps the SQLite file and the PostgreSQL tables from growing once rows start to expire',
    async () => {
      receiver = await startReceiver({ respond: () => ({ status: 200 }) });
      const pg = await postgresAvailable();

      const dataDir = tempDataDir();
      dirs.push(dataDir);
      const sqliteNode = await startServer({ dataDir, env: RETENTION });
      const sqliteSigner = sendGridSigner();
      const sqliteSource = await createSendGridSource(sqliteNode.url, sqliteSigner, 'soak sqlite');
      await createEndpoint(sqliteNode.url, receiver.url);
      const sqliteFile = join(dataDir, 'mailhook.db');
      // The database file is what retention keeps flat. The WAL beside it is sized by checkpoints,
      // not by what is kept: about 4 MB, more for a while when a loaded machine's readers hold a
      // checkpoint back, and cut back to WAL_SIZE_LIMIT_BYTES after (sqlite-wal-size.test.ts). Both
      // used to be summed here, and one such jump in the WAL failed the check in CI. It is logged.
      const walSizes: number[] = [];
      const fileSize = async () => {
        const wal = (() => {
          try {
            return statSync(`${sqliteFile}-wal`).size;
          } catch {
            return 0;
          }
        })();
        walSizes.push(wal);
        return statSync(sqliteFile).size;
      };

      let pgRun: Promise<{ samples: Sample[]; acknowledged: number }> | null = null;
      let sql: postgres.Sql | null = null;
      if (pg) {
        db = await createTestDatabase('mh_soak');
        const node = await startPgNode({ databaseUrl: db.url, env: RETENTION });
        const pgSigner = sendGridSigner();
        const source = await createSendGridSource(node.url, pgSigner, 'soak postgres');
        await createEndpoint(node.url, receiver.url);
        sql = postgres(db.url, { max: 1, onnotice: () => {} });
        const client = sql;
        const tablesSize = async () => {
          const [row] = await client<{ bytes: string }[]>`
          SELECT (pg_total_relation_size('events') + pg_total_relation_size('inbox')
            + pg_total_relation_size('deliveries') + pg_total_relation_size('attempts'))::text AS bytes`;
          return Number(row?.bytes ?? 0);
        };
        pgRun = soak(node.url, source, pgSigner, tablesSize);
      }
      const sqliteRun = await soak(sqliteNode.url, sqliteSource, sqliteSigner, fileSize);
      // Both runs end before any check: a failed one must not drop the database under the other's sampling.
      const pgResult = await pgRun;
      console.log(describeSamples('SQLite file', sqliteRun.samples, sqliteRun.acknowledged));
      console.log(`SQLite WAL beside it: ${walSizes.map((b) => `${Math.round(b / 1024)} KB`).join(' ')}`);
      const sqliteGrowth = growth(sqliteRun.samples);
      expect(sqliteRun.acknowledged).toBeGreaterThan(2000);
      // Three minutes of arrivals, but only the last minute or so kept: the file stops growing.
      expect(
        sqliteGrowth.last,
        'SQLite file size in the last third vs the first third after expiry',
      ).toBeLessThanOrEqual(sqliteGrowth.settled * 1.1);

      if (pgResult) {
        console.log(describeSamples('PostgreSQL tables', pgResult.samples, pgResult.acknowledged));
        expect(pgResult.acknowledged).toBeGreaterThan(2000);
        // Dead tuples become reusable only once no transaction on the server can still see them, and the
        // shared test server runs other suites' transactions meanwhile: so the check is on the rate. Without
        // pruning (or with autovacuum off and no VACUUM) the tables grow as fast as before the first expiry.
        const rate = growthRate(pgResult.samples);
        expect(
          rate.pruning,
          `PostgreSQL growth per second in the flattest ${PRUNING_WINDOW_MS / 1000} s after ${SETTLED_MS / 1000} s vs before (${JSON.stringify(rate)})`,
        ).toBeLessThan(rate.filling * 0.4);
        // And what that rate stands for: the expired rows are gone, and the pruner vacuumed the tables
        // (the test server runs with autovacuum off).
        const client = sql as postgres.Sql;
        const [kept] = await client<{ events: number; vacuums: number; autovacuum: boolean }[]>`
          SELECT (SELECT COUNT(*) FROM events)::int AS events,
                 (SELECT COALESCE(SUM(vacuum_count), 0) FROM pg_stat_user_tables
                   WHERE relname IN ('events', 'inbox', 'deliveries', 'attempts'))::int AS vacuums,
                 current_setting('autovacuum') = 'on' AS autovacuum`;
        expect(kept?.events, 'events kept of those acknowledged').toBeLessThan(
          pgResult.acknowledged * 3 * 0.65,
        );
        if (!kept?.autovacuum) expect(kept?.vacuums).toBeGreaterThan(0);
        await sql?.end({ timeout: 5 });
      }
    },
    SOAK_MS + 90_000,
  );
});
