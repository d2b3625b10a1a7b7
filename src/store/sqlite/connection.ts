import type Database from 'better-sqlite3';
import { registerIdFunctions } from './stored-id-sql.js';

/**
 * The size a write-ahead log that outgrew its checkpoints is cut back to when it next starts over.
 * A checkpoint runs every 1,000 pages (about 4 MB), so a WAL passes this only while a reader held a
 * checkpoint back (a backup, a long API read, a loaded machine); without a limit SQLite keeps the
 * file at its largest size for good. Twice the usual size: a steady writer never truncates and
 * then grows the file again.
 */
export const WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * How SqliteStore sets up its connection before the first statement: WAL and its size limit, the
 * durability level, the wait for another writer's lock, foreign keys and the id functions its SQL calls. The bench's
 * storage floor opens its connections with it too, so it runs the store's statements on a connection
 * like the store's. (Backups open their own, differently: src/store/sqlite/backup.ts.)
 */
export function configureConnection(db: Database.Database, synchronous: 'FULL' | 'NORMAL'): void {
  // SQLite opens lazily: a read-only directory shows up here, not in the constructor.
  db.pragma('journal_mode = WAL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  registerIdFunctions(db);
}
