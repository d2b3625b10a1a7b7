import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { countInboxSql, inboxStatusIs } from '../../src/store/inbox-status.js';
import { SqliteStore } from '../../src/store/index.js';
import {
  dropSchema,
  postgresAvailable,
  postgresStore,
  TEST_DATABASE_URL,
  testSchema,
} from '../helpers/postgres.js';

/**
 * The inbox_status index keeps only rows not processed (migration 013). A listing of pending or
 * quarantined rows among millions of processed ones must still seek in it: a planner that stopped
 * seeing the index would walk every processed row for one page.
 */
const LISTING = (status: 'pending' | 'quarantined') =>
  `SELECT * FROM inbox WHERE ${inboxStatusIs(status)} AND id < 'in_z' ORDER BY id DESC LIMIT 51`;

const withPostgres = await postgresAvailable();

describe('the partial inbox_status index', () => {
  it('SQLite plans the status listings and counts through it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailhook-inbox-status-'));
    try {
      const filename = join(dir, 'mailhook.db');
      const store = new SqliteStore({ filename });
      await store.migrate();
      await store.close();
      const db = new Database(filename, { readonly: true });
      const plan = (sql: string) =>
        db
          .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
          .all()
          .map((r) => r.detail)
          .join('; ');
      try {
        for (const status of ['pending', 'quarantined'] as const)
          expect(plan(LISTING(status))).toContain('USING INDEX inbox_status (status=? AND id<?)');
        expect(plan(countInboxSql('COUNT(*)'))).toContain('COVERING INDEX inbox_status');
      } finally {
        db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(withPostgres)('PostgreSQL plans the status listings through it', async () => {
    const schema = testSchema();
    const store = postgresStore(schema);
    const sql = postgres(TEST_DATABASE_URL, {
      max: 1,
      onnotice: () => {},
      connection: { search_path: schema },
    });
    try {
      await store.migrate();
      await sql.begin(async (tx) => {
        // An empty table would be read whole; the plan's choice of index is what is asked here.
        await tx`SET LOCAL enable_seqscan = off`;
        // Pending rows have their own partial index too (the pipeline's claim); either serves.
        const used = {
          pending: /using inbox_(status|pending) on inbox/,
          quarantined: /using inbox_status on inbox/,
        };
        for (const status of ['pending', 'quarantined'] as const) {
          const plan = await tx.unsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${LISTING(status)}`);
          expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(used[status]);
        }
      });
    } finally {
      await sql.end({ timeout: 5 });
      await store.close();
      await dropSchema(schema);
    }
  });
});
