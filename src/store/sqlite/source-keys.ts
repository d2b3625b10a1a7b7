import type Database from 'better-sqlite3';
import { eventBodyColumns, joinedEventColumns, type SourceIdSql } from '../event-body.js';

/**
 * SQLite's events and inbox rows name their source by a small integer key (migration 015) instead of
 * its 30-character id, which each row held once and each of four indexes again: about 120 bytes less
 * per stored request. `source_keys` maps every source id ever stored to its key and is never pruned,
 * so a key always reads back as the id it was given for. PostgreSQL keeps the id in its rows.
 *
 * Writers call ensureSourceKeys for the ids they are about to store, in the same transaction, then
 * bind ids through SOURCE_KEY; readers select SOURCE_ID_OF. A filter on an id no row was ever stored
 * under finds no key and so no row.
 */

/** A source id bound as `?`, as the key the rows hold. */
export const SOURCE_KEY = '(SELECT key FROM source_keys WHERE id = ?)';

/** The source id of the row aliased `alias` (or the unaliased row). */
export const SOURCE_ID_OF: SourceIdSql = (alias) =>
  `(SELECT id FROM source_keys WHERE key = ${alias ? `${alias}.` : ''}source_key)`;

/** The condition, on the row aliased `alias` (or unaliased), that it belongs to the source bound as `?`. */
export const sourceIs = (alias?: string) => `${alias ? `${alias}.` : ''}source_key = ${SOURCE_KEY}`;

/** Gives every id in `ids` a key if it has none yet; a no-op for ids already mapped. */
export function ensureSourceKeys(db: Database.Database, ids: Iterable<string>): void {
  const insert = db.prepare('INSERT OR IGNORE INTO source_keys (id) VALUES (?)');
  for (const id of new Set(ids)) insert.run(id);
}

/** eventBodyColumns for SQLite's rows. */
export const eventColumns = (alias?: string) => eventBodyColumns(alias, SOURCE_ID_OF);

/** joinedEventColumns for SQLite's rows. */
export const joinedEvent = (alias: string) => joinedEventColumns(alias, SOURCE_ID_OF);
