import { chmodSync, closeSync, openSync } from 'node:fs';

/** The data directory: only the owner may list or enter it. */
export const DATA_DIR_MODE = 0o700;
/** The database and its -wal and -shm files hold endpoint secrets and provider credentials. */
const OWNER_ONLY = 0o600;

/**
 * Makes the database file readable and writable by its owner only, before SQLite opens it. SQLite
 * creates the -wal and -shm files with the database file's mode, so they follow; files left by an
 * earlier version (0644) are tightened too. A file owned by another user keeps the mode its owner
 * chose (only the owner may change it).
 */
export function restrictDatabaseFiles(filename: string): void {
  // 'a' creates a missing file (SQLite takes an empty file for a new database) and never truncates.
  closeSync(openSync(filename, 'a', OWNER_ONLY));
  for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
    try {
      chmodSync(path, OWNER_ONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw err;
    }
  }
}
