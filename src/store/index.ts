import { join } from 'node:path';
import type { Config } from '../config.js';
import { MailhookError } from '../errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export { SqliteStore } from './sqlite/sqlite-store.js';
export type * from './store.js';
export { INBOX_STATUSES } from './store.js';

export const SQLITE_FILENAME = 'mailhook.db';

/** The single entrance to storage: picks the implementation from the configuration. */
export function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Store {
  if (config.databaseUrl) {
    throw new MailhookError(
      'MH_ERR_STORE_UNAVAILABLE',
      'DATABASE_URL is set, but this build ships only the SQLite store; unset DATABASE_URL to use SQLite in MAILHOOK_DATA_DIR',
    );
  }
  return new SqliteStore({ filename: join(config.dataDir, SQLITE_FILENAME) });
}
