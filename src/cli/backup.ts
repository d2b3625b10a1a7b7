import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SQLITE_FILENAME } from '../store/index.js';
import { BackupRefusal, backupSqlite, type StoreFileInfo } from '../store/sqlite/backup.js';
import { keyValues, print, printJson } from './output.js';
import { storeFileArgs } from './store-file-args.js';

/** A refusal (file exists, nothing to back up) is 1; a PostgreSQL configuration, where pg_dump is the tool, 78. */
const EXIT_REFUSED = 1;
export const EXIT_POSTGRES = 78;

const HELP = `mailhook backup <file> — a consistent copy of the SQLite store, taken while the server runs.

Options:
  --force   replace <file> if it exists
  --json    print the summary as JSON

The copy is SQLite's online backup of MAILHOOK_DATA_DIR/${SQLITE_FILENAME}: one snapshot, taken without
stopping ingest. It is written beside <file> under a temporary name, checked (PRAGMA integrity_check)
and renamed, so <file> is never a partial copy. It holds everything the store holds, provider
credentials and endpoint secrets included, and is written readable by its owner only.
With DATABASE_URL set (PostgreSQL), use pg_dump instead: see docs/backup.md.
Exit codes: 0 written, 1 refused or failed, 2 usage, 78 PostgreSQL configured.
Example:
  MAILHOOK_DATA_DIR=/var/lib/mailhook mailhook backup /backups/mailhook-$(date +%F).db
`;

/** The command for a PostgreSQL store; the URL stays in the variable (it holds the password). */
export const PG_DUMP_HINT = 'pg_dump --format=custom --file=<file> "$DATABASE_URL"';

export async function backupCommand(args: string[]): Promise<number> {
  const parsed = storeFileArgs(args, HELP);
  if (!parsed) return 0;
  const { file, config } = parsed;
  if (config.databaseUrl) {
    process.stderr.write(
      'mailhook backup: DATABASE_URL is set: this copies the SQLite store only. Back up PostgreSQL with\n' +
        `  ${PG_DUMP_HINT}\n` +
        'and restore with pg_restore into an empty database (docs/backup.md).\n',
    );
    return EXIT_POSTGRES;
  }
  const source = join(config.dataDir, SQLITE_FILENAME);
  const destination = resolve(file);
  try {
    if (isStoreFile(destination, source)) {
      throw new BackupRefusal(
        `${destination} is the store itself (or one of its files); write the backup elsewhere`,
      );
    }
    const result = await backupSqlite(source, destination, { force: parsed.force });
    const ms = Math.round(result.copyMs + result.checkMs);
    if (parsed.json) {
      printJson({
        file: result.file,
        bytes: result.bytes,
        pages: result.pages,
        page_size: result.pageSize,
        ...schemaJson(result),
        copy_ms: Math.round(result.copyMs),
        check_ms: Math.round(result.checkMs),
        ms,
      });
    } else {
      print(`backup written to ${result.file}`);
      print(
        keyValues([
          ['size', `${megabytes(result.bytes)} (${result.pages} pages of ${result.pageSize} bytes)`],
          ['schema', schemaText(result)],
          [
            'took',
            `${ms} ms (copy ${Math.round(result.copyMs)} ms, integrity check ${Math.round(result.checkMs)} ms)`,
          ],
        ]),
      );
    }
    return 0;
  } catch (err) {
    if (!(err instanceof BackupRefusal)) throw err;
    process.stderr.write(`mailhook backup: ${err.message}\n`);
    return EXIT_REFUSED;
  }
}

/** The store's own file, its -wal or -shm: a rename onto one of them would replace the live store. */
function isStoreFile(destination: string, source: string): boolean {
  const real = (path: string) => {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  };
  const target = real(destination);
  return ['', '-wal', '-shm', '-journal'].some((suffix) => real(`${source}${suffix}`) === target);
}

export function schemaJson(info: StoreFileInfo) {
  const last = info.migrations.at(-1);
  return { schema_version: last?.version ?? null, migrations: info.migrations.map((m) => m.name) };
}

export function schemaText(info: StoreFileInfo): string {
  const last = info.migrations.at(-1);
  return last
    ? `version ${last.version} (${last.name}; ${info.migrations.length} migrations)`
    : 'no migrations';
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
