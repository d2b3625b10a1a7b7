import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { loadMigrations } from '../migrations.js';
import { DATA_DIR_MODE } from './file-modes.js';
import { SqliteStore } from './sqlite-store.js';

/**
 * Backup and restore of the SQLite store.
 *
 * The copy is made with SQLite's online backup API in a single step: one read transaction over the
 * whole file. In WAL mode a reader never blocks the writer, so the live server keeps committing
 * ingest while the copy is taken, and the copy is the database as it was when that transaction
 * began. A copy made in small steps would start over at the next step whenever the server commits
 * (the API's rule for changes made through another connection), so under steady ingest it might never
 * finish. `VACUUM INTO` gives the same snapshot, but rebuilds every table and index into the new file,
 * which costs more CPU and time for the same result.
 */

/** A refusal the operator can act on (file exists, server running, not a mailhook store …). */
export class BackupRefusal extends Error {}

/** What a copy holds, read from the copy itself. */
export interface StoreFileInfo {
  file: string;
  bytes: number;
  pages: number;
  pageSize: number;
  /** The applied migrations, oldest first: the schema version is the last one. */
  migrations: Array<{ version: number; name: string }>;
}

export interface BackupResult extends StoreFileInfo {
  /** Time to copy, and then to check the copy's integrity. */
  copyMs: number;
  checkMs: number;
}

export interface RestoreResult extends StoreFileInfo {
  /** Where the store that was there before went (with --force), or null. */
  previous: string | null;
  /** Migrations this version applied to the copy because the backup came from an older one. */
  applied: number[];
  ms: number;
}

/** Larger than any database's page count: the whole file in one backup step (see above). */
const ALL_PAGES = 0x7fffffff;

const OWNER_ONLY = 0o600;

/**
 * Copies the live store at `source` to `destination`. The copy is written to a temporary file beside
 * `destination` (owner-only, like the store: it holds every credential the store does), checked,
 * then renamed, so `destination` is either absent or a whole, checked copy.
 */
export async function backupSqlite(
  source: string,
  destination: string,
  options: { force?: boolean } = {},
): Promise<BackupResult> {
  if (!existsSync(source)) throw new BackupRefusal(`no SQLite store at ${source} (check MAILHOOK_DATA_DIR)`);
  if (existsSync(destination) && !options.force) {
    throw new BackupRefusal(
      `${destination} already exists; choose another name or pass --force to replace it`,
    );
  }
  if (!existsSync(dirname(destination)))
    throw new BackupRefusal(`directory ${dirname(destination)} does not exist`);
  const temp = tempBeside(destination);
  try {
    const started = performance.now();
    await copyDatabase(source, temp);
    const copyMs = performance.now() - started;
    const info = checkStoreFile(temp);
    const checkMs = performance.now() - started - copyMs;
    renameSync(temp, destination);
    syncDirectory(dirname(destination));
    return { ...info, file: destination, copyMs, checkMs };
  } catch (err) {
    removeDatabaseFiles(temp);
    throw err;
  }
}

/**
 * Puts the copy `backup` in place as the store `target` (`<data dir>/mailhook.db`). Refuses while a
 * process has the store open; without `force`, refuses when a store is already there. With `force`,
 * the old store is renamed to `mailhook.db.before-restore-<time>`, never deleted.
 */
export async function restoreSqlite(
  backup: string,
  target: string,
  options: { force?: boolean; now?: Date } = {},
): Promise<RestoreResult> {
  const started = performance.now();
  if (!existsSync(backup)) throw new BackupRefusal(`${backup} does not exist`);
  const dir = dirname(target);
  const present = holdsStore(target);
  if (present && isOpenElsewhere(target)) {
    throw new BackupRefusal(
      `the store in ${dir} is open in another process (a running mailhook server?); stop it before restoring`,
    );
  }
  if (present && !options.force) {
    throw new BackupRefusal(
      `${dir} already holds a store (${basename(target)}); restore into an empty data dir, or pass --force to replace it (the old store is kept beside it)`,
    );
  }
  // The directory may not exist yet: restore is how a new host gets its store.
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  const temp = tempBeside(target);
  let applied: number[];
  let info: StoreFileInfo;
  try {
    try {
      await copyDatabase(backup, temp, { readOnly: true });
    } catch (err) {
      throw new BackupRefusal(`${backup} is not a readable SQLite database: ${(err as Error).message}`);
    }
    info = checkStoreFile(temp);
    const known = new Set(loadMigrations('sqlite').map((m) => m.version));
    const unknown = info.migrations.filter((m) => !known.has(m.version));
    if (unknown.length > 0) {
      throw new BackupRefusal(
        `${backup} comes from a newer mailhook (migration ${unknown.map((m) => m.name).join(', ')} is unknown to this version); restore it with that version or a later one`,
      );
    }
    // The store migrates itself, as the server does at start; closing it folds its WAL back in, so
    // the renamed file stands alone.
    const store = new SqliteStore({ filename: temp });
    try {
      applied = await store.migrate();
    } finally {
      await store.close();
    }
    rmSync(`${temp}-shm`, { force: true });
    if (existsSync(`${temp}-wal`)) throw new Error(`the restored copy's WAL ${temp}-wal was not folded in`);
    if (applied.length > 0) info = describeStoreFile(temp);
  } catch (err) {
    removeDatabaseFiles(temp);
    throw err;
  }
  let previous: string | null = null;
  if (present || existsSync(target)) {
    // Checked again: a server may have started while the copy was being made.
    if (present && isOpenElsewhere(target)) {
      removeDatabaseFiles(temp);
      throw new BackupRefusal(
        `the store in ${dir} was opened by another process during the restore; stop it first`,
      );
    }
    previous = `${target}.before-restore-${stamp(options.now ?? new Date())}`;
    // The -wal and -shm files belong to the old database: left under the store's name, SQLite would
    // replay the old WAL into the restored file and corrupt it.
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(`${target}${suffix}`)) renameSync(`${target}${suffix}`, `${previous}${suffix}`);
    }
  }
  renameSync(temp, target);
  syncDirectory(dir);
  return { ...info, file: target, previous, applied, ms: performance.now() - started };
}

/**
 * True when another connection has the database open. A connection to a WAL database holds a shared
 * lock in the -shm file while it is open, and the last one to close folds the WAL into the database
 * and deletes it; so this opens the store, reads it and closes it: a -wal file still there afterwards
 * means another connection holds it (a running server, even an idle one). A lock test on the database
 * file says nothing here: idle WAL connections hold none, and an exclusive-mode connection ignores the
 * -shm locks and would fold the WAL away under a running server. A store left by a killed server has
 * no holder; this open recovers its WAL, as the server's next start would.
 */
export function isOpenElsewhere(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new Database(file, { fileMustExist: true });
  let wal: boolean;
  try {
    db.pragma('busy_timeout = 5000');
    wal = db.pragma('journal_mode', { simple: true }) === 'wal';
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } finally {
    db.close();
  }
  // The server always switches the store to WAL: a store in another mode has never been served since.
  return wal && existsSync(`${file}-wal`);
}

/** A data dir holds a store unless its database file is missing, or empty with no WAL beside it. */
function holdsStore(target: string): boolean {
  if (existsSync(`${target}-wal`)) return true;
  return existsSync(target) && statSync(target).size > 0;
}

async function copyDatabase(source: string, destination: string, options: { readOnly?: boolean } = {}) {
  // Created owner-only before SQLite opens it: SQLite keeps an existing file's mode, and gives its
  // journal the same one.
  closeSync(openSync(destination, 'wx', OWNER_ONLY));
  const db = new Database(source, { fileMustExist: true, readonly: options.readOnly ?? false });
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('query_only = ON');
    await db.backup(destination, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
}

/**
 * Checks a copy: the SQLite integrity check, and the schema_migrations table every mailhook store
 * has. Leaves the file in rollback-journal mode, so it is one self-contained file (the server turns
 * WAL back on when it opens it).
 */
function checkStoreFile(file: string): StoreFileInfo {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    const problems = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>;
    const messages = problems.map((row) => row.integrity_check).filter((text) => text !== 'ok');
    if (messages.length > 0) {
      throw new BackupRefusal(`${file} fails the integrity check: ${messages.slice(0, 5).join('; ')}`);
    }
    const table = db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
      )
      .get();
    if (!table)
      throw new BackupRefusal(
        'the file is an SQLite database but not a mailhook store (no schema_migrations)',
      );
    return describe(db, file);
  } finally {
    db.close();
  }
}

function describeStoreFile(file: string): StoreFileInfo {
  const db = new Database(file, { fileMustExist: true, readonly: true });
  try {
    return describe(db, file);
  } finally {
    db.close();
  }
}

function describe(db: Database.Database, file: string): StoreFileInfo {
  return {
    file,
    bytes: statSync(file).size,
    pages: db.pragma('page_count', { simple: true }) as number,
    pageSize: db.pragma('page_size', { simple: true }) as number,
    migrations: db
      .prepare<[], { version: number; name: string }>(
        'SELECT version, name FROM schema_migrations ORDER BY version',
      )
      .all(),
  };
}

function tempBeside(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

/** Makes a rename durable: the new directory entry survives a power cut. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `2026-12-06T101500Z`: sorts by time and has no colons (awkward in file names on some systems). */
function stamp(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '');
}
