import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { PostgresStore, SqliteStore } from '../../src/store/index.js';
import { loadMigrations } from '../../src/store/migrations.js';
import type { AttemptResult, ClaimedDelivery, Store } from '../../src/store/store.js';
import { dropSchema, postgresAvailable, TEST_DATABASE_URL, testSchema } from '../helpers/postgres.js';

/**
 * Migration 008 on a database that has endpoints already: those in a failure streak are left
 * undecided, and their next attempts decide as the rule before it would have (MAILHOOK_FAILING_AFTER),
 * so an endpoint that had raised failing does not raise it twice.
 */

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const HOUR = 3_600_000;
const BEFORE_008 = 8;

/** A database of one dialect, brought to just before 008 with plain SQL. */
interface Dialect {
  /** Applies the migrations below 008, runs `rows`, and returns the store on that database. */
  prepare(
    rows: string[],
  ): Promise<{ store: Store; alertStates: () => Promise<Record<string, string | null>> }>;
  cleanup(): Promise<void>;
}

function endpointInserts(streaks: Record<string, number>): string[] {
  return Object.entries(streaks).flatMap(([id, failures]) => {
    const failedAt = failures > 0 ? T0 - HOUR : 'NULL';
    const endpoint = `INSERT INTO endpoints (id, url, event_types, headers, secrets, max_concurrency,
        consecutive_failures, first_failure_at, last_failure_at, created_at, updated_at)
      VALUES ('${id}', 'https://hooks.example.com/${id}', '[]', '{}', '[{"secret":"whsec_x","expires_at":null}]', 10,
        ${failures}, ${failedAt}, ${failedAt}, ${T0 - 2 * HOUR}, ${T0 - 2 * HOUR})`;
    // Deliveries with their own payload (as test sends have), due at T0.
    const deliveries = Array.from(
      { length: 8 },
      (
        _,
        i,
      ) => `INSERT INTO deliveries (id, event_id, endpoint_id, dedupe, origin, payload, status, next_attempt_at,
          created_at, updated_at)
        VALUES ('${newId('delivery')}', '${newId('event')}', '${id}', 'test:${i}', 'test', '{}', 'pending', ${T0}, ${T0}, ${T0})`,
    );
    return [endpoint, ...deliveries];
  });
}

const sqlite = (): Dialect => {
  let dir = '';
  let store: SqliteStore | null = null;
  return {
    async prepare(rows) {
      dir = await mkdtemp(join(tmpdir(), 'mailhook-008-'));
      const filename = join(dir, 'mailhook.db');
      const db = new Database(filename);
      db.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      for (const migration of loadMigrations('sqlite').filter((m) => m.version < BEFORE_008)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          T0,
        );
      }
      for (const row of rows) db.exec(row);
      db.close();
      const opened = new SqliteStore({ filename });
      store = opened;
      return {
        store: opened,
        async alertStates() {
          const check = new Database(filename, { readonly: true });
          try {
            const found = check
              .prepare<[], { id: string; alert_state: string | null }>(
                'SELECT id, alert_state FROM endpoints',
              )
              .all();
            return Object.fromEntries(found.map((r) => [r.id, r.alert_state]));
          } finally {
            check.close();
          }
        },
      };
    },
    async cleanup() {
      await store?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
};

const pg = (): Dialect => {
  const schema = testSchema();
  let store: PostgresStore | null = null;
  const sql = postgres(TEST_DATABASE_URL, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: schema },
  });
  return {
    async prepare(rows) {
      await sql`CREATE SCHEMA ${sql(schema)}`;
      await sql`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
      for (const migration of loadMigrations('postgres').filter((m) => m.version < BEFORE_008)) {
        await sql.unsafe(migration.sql);
        await sql`INSERT INTO schema_migrations VALUES (${migration.version}, ${migration.name}, ${T0})`;
      }
      for (const row of rows) await sql.unsafe(row);
      const opened = new PostgresStore({ url: TEST_DATABASE_URL, schema, max: 2 });
      store = opened;
      return {
        store: opened,
        async alertStates() {
          const found = await sql<
            { id: string; alert_state: string | null }[]
          >`SELECT id, alert_state FROM endpoints`;
          return Object.fromEntries(found.map((r) => [r.id, r.alert_state]));
        },
      };
    },
    async cleanup() {
      await store?.close();
      await sql.end({ timeout: 5 });
      await dropSchema(schema);
    },
  };
};

const dialects: Array<[string, () => Dialect]> = [['SQLite', sqlite]];
if (await postgresAvailable()) dialects.push(['PostgreSQL', pg]);

for (const [name, make] of dialects) {
  describe(`migration 008 on ${name}`, () => {
    let dialect: Dialect;
    beforeEach(() => {
      dialect = make();
    });
    afterEach(async () => dialect.cleanup());

    it('leaves endpoints in a failure streak undecided; their next attempts decide as MAILHOOK_FAILING_AFTER says', async () => {
      const { store, alertStates } = await dialect.prepare(
        endpointInserts({ ep_healthy: 0, ep_streak: 2, ep_failing: 7 }),
      );
      expect(await store.migrate()).toContain(8);
      expect(await alertStates()).toEqual({ ep_healthy: 'ok', ep_streak: null, ep_failing: null });

      const options = { failingAfter: 5 };
      const attempt = async (endpointId: string, ok: boolean, ms: number): Promise<string[]> => {
        const [item] = await store.claimDueDeliveries({
          owner: 'worker-a',
          now: new Date(T0 + ms),
          leaseMs: 60_000,
          limit: 1,
          slots: (endpoint) => (endpoint.id === endpointId ? 1 : 0),
        });
        expect(item).toBeDefined();
        const transitions = await store.recordAttempts(
          [outcome(item as ClaimedDelivery, ok, T0 + ms)],
          new Date(T0 + ms + 100),
          options,
        );
        return transitions.map((t) => t.kind);
      };

      // Seven failures had raised failing under the rule before: the eighth raises nothing.
      expect(await attempt('ep_failing', false, 0)).toEqual([]);
      // Two had not: the fifth does.
      expect(await attempt('ep_streak', false, 0)).toEqual([]);
      expect(await attempt('ep_streak', false, SECOND)).toEqual([]);
      expect(await attempt('ep_streak', false, 2 * SECOND)).toEqual(['failing']);
      expect(await attempt('ep_healthy', false, 0)).toEqual([]);
      // No dwell since nothing was raised for it after 008: five successes over a minute recover it.
      const kinds: string[][] = [];
      for (const s of [10, 25, 40, 55, 71]) kinds.push(await attempt('ep_failing', true, s * SECOND));
      expect(kinds).toEqual([[], [], [], [], ['recovered']]);
      expect(await alertStates()).toEqual({ ep_healthy: 'ok', ep_streak: 'failing', ep_failing: 'ok' });
    });
  });
}

function outcome(item: ClaimedDelivery, ok: boolean, startedMs: number): AttemptResult {
  return {
    attempt: {
      id: newId('attempt'),
      deliveryId: item.delivery.id,
      endpointId: item.endpoint.id,
      attempt: item.delivery.attempts + 1,
      startedAt: new Date(startedMs),
      durationMs: 40,
      ok,
      httpStatus: ok ? 200 : 500,
      errorClass: null,
      error: ok ? null : 'HTTP 500',
      responseSnippet: null,
    },
    leaseOwner: item.leaseOwner,
    status: ok ? 'succeeded' : 'pending',
    nextAttemptAt: ok ? null : new Date(startedMs + 24 * HOUR),
    disableEndpoint: null,
  };
}
