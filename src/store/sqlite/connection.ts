import type Database from 'better-sqlite3';
import { registerIdFunctions } from './stored-id-sql.js';

/**
 * How SqliteStore sets up its connection before the first statement: WAL, the durability level, the
 * wait for another writer's lock, foreign keys and the id functions its SQL calls. The bench's
 * storage floor opens its connections with it too, so it runs the store's statements on a connection
 * like the store's. (Backups open their own, differently: src/store/sqlite/backup.ts.)
 */
export function configureConnection(db: Database.Database, synchronous: 'FULL' | 'NORMAL'): void {
  // SQLite opens lazily: a read-only directory shows up here, not in the constructor.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  registerIdFunctions(db);
}
