import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ensureAdminKey } from '../../src/api/index.js';
import { build } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { API_KEY, testApp } from './app.js';
import { dropSchema, postgresAvailable, postgresStore, testSchema } from './postgres.js';

/** An application listening on 127.0.0.1, on one store or the other, for API tests run on both. */
export interface ListeningApp {
  url: string;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function sqliteListeningApp(): Promise<ListeningApp> {
  const app = await testApp();
  const url = await app.server.listen({ host: '127.0.0.1', port: 0 });
  return { url, server: app.server, close: () => app.close() };
}

/** The same application on its own schema of the real PostgreSQL server. */
export async function postgresListeningApp(): Promise<ListeningApp> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-test-'));
  const schema = testSchema();
  const store = postgresStore(schema);
  await store.migrate();
  await ensureAdminKey(store, API_KEY);
  const config = loadConfig({ MAILHOOK_DATA_DIR: dir, MAILHOOK_API_KEY: API_KEY });
  const app = await build({ config, store, logger: pino({ level: 'silent' }) });
  const url = await app.server.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    server: app.server,
    async close() {
      await app.server.close();
      await store.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SQLite always; PostgreSQL when the test server answers (always in CI). */
export async function listeningStores(): Promise<Array<[string, () => Promise<ListeningApp>]>> {
  const stores: Array<[string, () => Promise<ListeningApp>]> = [['SQLite', sqliteListeningApp]];
  if (await postgresAvailable()) stores.push(['PostgreSQL', postgresListeningApp]);
  return stores;
}
