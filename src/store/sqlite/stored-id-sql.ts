import type Database from 'better-sqlite3';
import { idBound } from '../retention.js';
import { idBytes, idText, idTimeBound, type StoredIdPrefix } from '../stored-id.js';

/**
 * SQL over SQLite's stored ids (src/store/stored-id.ts), for joins between a column that holds bytes
 * (events.id) and one that holds the string (deliveries.event_id). The functions are registered on
 * every connection the store opens, before any statement is prepared; migration 016 uses them too.
 */
export function registerIdFunctions(db: Database.Database): void {
  const prefixOf = (prefix: unknown): StoredIdPrefix => (prefix === 'in' ? 'in' : 'evt');
  // Bytes are returned as they are, so converting twice changes nothing.
  db.function('mailhook_id_bytes', { deterministic: true }, (id, prefix) =>
    id === null || typeof id !== 'string' ? id : idBytes(id, prefixOf(prefix)),
  );
  db.function('mailhook_id_text', { deterministic: true }, (value, prefix) =>
    value === null ? null : idText(value as string | Uint8Array, prefixOf(prefix)),
  );
}

/** The stored form of the event id the SQL expression `sql` gives as a string. */
export const EVENT_ID_BYTES = (sql: string) => `mailhook_id_bytes(${sql}, 'evt')`;

/** The string of the stored event id the SQL expression `sql` gives. */
export const EVENT_ID_TEXT = (sql: string) => `mailhook_id_text(${sql}, 'evt')`;

/**
 * The condition that the inbox id in `column` was made before a time bound as two parameters
 * (inboxIdBefore): an id kept as a string against the string bound, a stored one against the bytes'.
 * SQLite sorts every string below every BLOB, so one bound alone would take every string id.
 */
export const INBOX_ID_BEFORE = (column: string) => `(${column} < ? OR (${column} >= x'' AND ${column} < ?))`;

/** INBOX_ID_BEFORE's parameters for `time`; for null, bounds below every id. */
export function inboxIdBefore(time: Date | null): [string, Buffer] {
  return time ? [idBound('inbox', time), idTimeBound(time.getTime())] : ['', Buffer.alloc(0)];
}
