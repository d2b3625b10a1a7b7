import type Database from 'better-sqlite3';
import { idBytes, idText, type StoredIdPrefix } from '../stored-id.js';

/**
 * SQL over SQLite's stored ids (src/store/stored-id.ts), for joins between a column that holds bytes
 * (events.id) and one that holds the string (deliveries.event_id). The functions are registered on
 * every connection the store opens, before any statement is prepared; migration 016 uses them too.
 */
export function registerIdFunctions(db: Database.Database): void {
  const prefixOf = (prefix: unknown): StoredIdPrefix => (prefix === 'in' ? 'in' : 'evt');
  db.function('mailhook_id_bytes', { deterministic: true }, (id, prefix) =>
    id === null ? null : idBytes(String(id), prefixOf(prefix)),
  );
  db.function('mailhook_id_text', { deterministic: true }, (value, prefix) =>
    value === null ? null : idText(value as string | Uint8Array, prefixOf(prefix)),
  );
}

/** The stored form of the event id the SQL expression `sql` gives as a string. */
export const EVENT_ID_BYTES = (sql: string) => `mailhook_id_bytes(${sql}, 'evt')`;

/** The string of the stored event id the SQL expression `sql` gives. */
export const EVENT_ID_TEXT = (sql: string) => `mailhook_id_text(${sql}, 'evt')`;
