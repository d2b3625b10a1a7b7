import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { newId } from '../../src/ids.js';
import { type InboxInsert, PostgresStore, SQLITE_FILENAME, SqliteStore } from '../../src/store/index.js';
import { SOURCE_ID_OF } from '../../src/store/sqlite/source-keys.js';
import { idText } from '../../src/store/stored-id.js';
import { sendGridBody } from './sendgrid.js';

/**
 * Reads a server's database directly (the reliability suite checks invariants the API does not
 * expose, such as how many times an inbox row was counted) and writes backlogs into its inbox
 * before the server starts. The same SQL runs on SQLite and PostgreSQL.
 */

export interface Progress {
  pendingRows: number;
  events: number;
  pendingDeliveries: number;
  /** Pending deliveries a worker holds under a lease (in flight). */
  leasedDeliveries: number;
  /**
   * The most of those held by one worker: a node's attempts on the wire, reserved for a hand-off, or
   * ended and not yet recorded, which its pool (MAILHOOK_DELIVERY_CONCURRENCY) bounds. Leases of a
   * node killed earlier stay until they expire, under that node's owner.
   */
  mostLeasedByOneWorker: number;
}

export interface InboxSnapshotRow {
  id: string;
  status: string;
  event_count: number;
  duplicate_count: number;
}

export interface Snapshot {
  inbox: InboxSnapshotRow[];
  events: { id: string; source_id: string; dedup_key: string; inbox_id: string | null }[];
  deliveries: { id: string; event_id: string; status: string; attempts: number; ok: number }[];
}

export interface StoreProbe {
  dialect: 'sqlite' | 'postgres';
  /** Appends rows to the inbox (as a committed ingest would) with the store's own code. */
  prefill(rows: InboxInsert[]): Promise<void>;
  progress(): Promise<Progress>;
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

const PROGRESS_SQL = `
  SELECT
    (SELECT COUNT(*) FROM inbox WHERE status = 'pending') AS "pendingRows",
    (SELECT COUNT(*) FROM events) AS events,
    (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS "pendingDeliveries",
    (SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND lease_owner IS NOT NULL) AS "leasedDeliveries",
    (SELECT COALESCE(MAX(n), 0) FROM (
      SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending' AND lease_owner IS NOT NULL
      GROUP BY lease_owner) AS held) AS "mostLeasedByOneWorker"`;
const INBOX_SQL = 'SELECT id, status, event_count, duplicate_count FROM inbox ORDER BY id';
const EVENTS_SQL = 'SELECT id, source_id, dedup_key, inbox_id FROM events ORDER BY id';
/**
 * SQLite stores a digest key as 16 bytes (sqliteDedupKey), shown in storedDedupKey's text form, and a
 * source key instead of the id (src/store/sqlite/source-keys.ts).
 */
const SQLITE_EVENTS_SQL = `SELECT id, ${SOURCE_ID_OF()} AS source_id, inbox_id,
  CASE typeof(dedup_key) WHEN 'blob' THEN '#' || lower(hex(dedup_key)) ELSE dedup_key END AS dedup_key
  FROM events ORDER BY id`;
const DELIVERIES_SQL = `
  SELECT d.id, d.event_id, d.status, d.attempts,
         (SELECT COUNT(*) FROM attempts a WHERE a.delivery_id = d.id AND a.ok = 1) AS ok
  FROM deliveries d ORDER BY d.id`;

/** A probe on the SQLite file of a data dir; reads use short-lived read-only connections. */
export function sqliteProbe(dataDir: string): StoreProbe {
  const file = join(dataDir, SQLITE_FILENAME);
  const read = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    dialect: 'sqlite',
    async prefill(rows) {
      const store = new SqliteStore({ filename: file });
      try {
        for (let i = 0; i < rows.length; i += 500) await store.appendInbox(rows.slice(i, i + 500));
      } finally {
        await store.close();
      }
    },
    async progress() {
      return read((db) => db.prepare<[], Progress>(PROGRESS_SQL).get() as Progress);
    },
    async snapshot() {
      // Event and inbox ids as their strings (SQLite keeps them as bytes: stored-id.ts).
      type Stored<T> = Omit<T, 'id' | 'inbox_id'> & {
        id: Buffer | string;
        inbox_id?: Buffer | string | null;
      };
      return read((db) => ({
        inbox: db
          .prepare<[], Stored<InboxSnapshotRow>>(INBOX_SQL)
          .all()
          .map((row) => ({ ...row, id: idText(row.id, 'in') })),
        events: db
          .prepare<[], Stored<Snapshot['events'][number]>>(SQLITE_EVENTS_SQL)
          .all()
          .map((row) => ({
            ...row,
            id: idText(row.id, 'evt'),
            inbox_id: idText(row.inbox_id ?? null, 'in'),
          })),
        deliveries: db.prepare<[], Snapshot['deliveries'][number]>(DELIVERIES_SQL).all(),
      }));
    },
    async close() {},
  };
}

/** A probe on a PostgreSQL database (the one the nodes' DATABASE_URL names). */
export function postgresProbe(url: string): StoreProbe {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const ints = <T extends object>(row: T): T =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]),
    ) as T;
  return {
    dialect: 'postgres',
    async prefill(rows) {
      const store = new PostgresStore({ url, max: 2 });
      try {
        for (let i = 0; i < rows.length; i += 500) await store.appendInbox(rows.slice(i, i + 500));
      } finally {
        await store.close();
      }
    },
    async progress() {
      const [row] = await sql.unsafe(PROGRESS_SQL);
      return ints(row as unknown as Progress);
    },
    async snapshot() {
      const inbox = (await sql.unsafe(INBOX_SQL)) as unknown as InboxSnapshotRow[];
      const events = (await sql.unsafe(EVENTS_SQL)) as unknown as Snapshot['events'];
      const deliveries = (await sql.unsafe(DELIVERIES_SQL)) as unknown as Snapshot['deliveries'];
      return { inbox: inbox.map(ints), events: [...events], deliveries: deliveries.map(ints) };
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/** An inbox row holding one signed-and-verified SendGrid batch, as ingest would have stored it. */
export function sendGridInboxRow(
  sourceId: string,
  events: Record<string, unknown>[],
  headers: Record<string, string> = { 'content-type': 'application/json' },
): InboxInsert {
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'sendgrid',
    receivedAt: new Date(),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers,
    body: Buffer.from(sendGridBody(events)),
  };
}
