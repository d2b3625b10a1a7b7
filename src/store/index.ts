import { join } from 'node:path';
import type { Config } from '../config.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { SyncFile } from './sqlite/wal-sync.js';
import type { Store } from './store.js';

export { PostgresStore } from './postgres/postgres-store.js';
export { SqliteStore } from './sqlite/sqlite-store.js';
export type * from './store.js';
export { INBOX_STATUSES } from './store.js';

export const SQLITE_FILENAME = 'mailhook.db';

/** The single entrance to storage: picks the implementation from the configuration. */
export function openStore(
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
  options: { poolSize?: number; synchronous?: 'FULL' | 'NORMAL'; syncFile?: SyncFile } = {},
): Store {
  if (config.databaseUrl) return new PostgresStore({ url: config.databaseUrl, max: options.poolSize ?? 10 });
  return new SqliteStore({
    filename: join(config.dataDir, SQLITE_FILENAME),
    ...(options.synchronous && { synchronous: options.synchronous }),
    ...(options.syncFile && { syncFile: options.syncFile }),
  });
}
