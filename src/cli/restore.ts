import { join, resolve } from 'node:path';
import { SQLITE_FILENAME } from '../store/index.js';
import { BackupRefusal, restoreSqlite } from '../store/sqlite/backup.js';
import { EXIT_POSTGRES, megabytes, schemaJson, schemaText } from './backup.js';
import { keyValues, print, printJson } from './output.js';
import { storeFileArgs } from './store-file-args.js';

const EXIT_REFUSED = 1;

const HELP = `mailhook restore <file> — put a copy made by "mailhook backup" into MAILHOOK_DATA_DIR.

Options:
  --force   replace the store already in the data dir; it is kept as
            ${SQLITE_FILENAME}.before-restore-<time> (with its -wal and -shm files)
  --json    print the summary as JSON

The data dir must hold no store (or use --force), and no server may be running on it. The file must
pass PRAGMA integrity_check and be a mailhook store; a copy from an older version is migrated here.
Start the server afterwards: mailhook serve.
With DATABASE_URL set (PostgreSQL), use pg_restore instead: see docs/backup.md.
Exit codes: 0 restored, 1 refused or failed, 2 usage, 78 PostgreSQL configured.
Example:
  MAILHOOK_DATA_DIR=/var/lib/mailhook mailhook restore /backups/mailhook-2026-12-06.db
`;

export async function restoreCommand(args: string[]): Promise<number> {
  const parsed = storeFileArgs(args, HELP);
  if (!parsed) return 0;
  const { file, config } = parsed;
  if (config.databaseUrl) {
    process.stderr.write(
      'mailhook restore: DATABASE_URL is set: this restores an SQLite store only. Restore a pg_dump file with\n' +
        '  pg_restore --no-owner --dbname="$DATABASE_URL" <file>\n' +
        'into an empty database, then start mailhook (docs/backup.md).\n',
    );
    return EXIT_POSTGRES;
  }
  const target = join(config.dataDir, SQLITE_FILENAME);
  try {
    const result = await restoreSqlite(resolve(file), target, { force: parsed.force });
    if (parsed.json) {
      printJson({
        file: result.file,
        previous: result.previous,
        bytes: result.bytes,
        pages: result.pages,
        ...schemaJson(result),
        applied: result.applied,
        ms: Math.round(result.ms),
      });
    } else {
      print(`restored ${resolve(file)} into ${result.file}`);
      print(
        keyValues([
          ['previous store', result.previous ?? 'none'],
          ['size', `${megabytes(result.bytes)} (${result.pages} pages)`],
          ['schema', schemaText(result)],
          [
            'migrated',
            result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : 'nothing to apply',
          ],
          ['took', `${Math.round(result.ms)} ms`],
        ]),
      );
      print('start the server on it with: mailhook serve');
    }
    return 0;
  } catch (err) {
    if (!(err instanceof BackupRefusal)) throw err;
    process.stderr.write(`mailhook restore: ${err.message}\n`);
    return EXIT_REFUSED;
  }
}
