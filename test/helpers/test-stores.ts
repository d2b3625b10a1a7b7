import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { dropSchema, postgresAvailable, postgresStore, testSchema } from './postgres.js';

/** A store made for one test, and what removes it afterwards. */
export interface MadeStore {
  store: Store;
  cleanup(): Promise<void>;
}

/** A SQLite store on a file of its own (not migrated). */
export async function sqliteTestStore(): Promise<MadeStore> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-store-'));
  const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL store on a schema of its own on the test server (not migrated). */
export async function postgresTestStore(): Promise<MadeStore> {
  const schema = testSchema();
  const store = postgresStore(schema);
  return {
    store,
    async cleanup() {
      await store.close();
      await dropSchema(schema);
    },
  };
}

/** Both stores for `describe.each`; PostgreSQL only where its server answers (always in CI). */
export async function testStores(): Promise<Array<[string, () => Promise<MadeStore>]>> {
  const stores: Array<[string, () => Promise<MadeStore>]> = [['SQLite', sqliteTestStore]];
  if (await postgresAvailable()) stores.push(['PostgreSQL', postgresTestStore]);
  return stores;
}
