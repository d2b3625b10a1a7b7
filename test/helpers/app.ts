import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type App, build } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import { PipelineRunner } from '../../src/pipeline/runner.js';
import { SqliteStore } from '../../src/store/index.js';
import type { EventEffects } from '../../src/store/store.js';

export const API_KEY = 'test-api-key-0123456789';
export const AUTH = { authorization: `Bearer ${API_KEY}` };

export interface TestApp extends App {
  config: Config;
  store: SqliteStore;
  pipeline: PipelineRunner;
  effects: EventEffects;
  dir: string;
  close(): Promise<void>;
}

/** An application on its own temporary SQLite file, with an API key registered and a silent logger. */
export async function testApp(env: Record<string, string> = {}, now?: () => Date): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-test-'));
  const config = loadConfig({ MAILHOOK_DATA_DIR: dir, MAILHOOK_API_KEY: API_KEY, ...env });
  const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  await store.migrate();
  const { ensureAdminKey } = await import('../../src/api/index.js');
  await ensureAdminKey(store, API_KEY);
  const logger = pino({ level: 'silent' });
  const effects = pipelineEffects({ threshold: config.softBounceLimit, windowMs: config.softBounceWindowMs });
  const pipeline = new PipelineRunner({ store, logger, effects, ...(now && { now }) });
  const app = await build({ config, store, logger, ...(now && { now }) });
  return {
    ...app,
    config,
    store,
    pipeline,
    effects,
    dir,
    async close() {
      await app.server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
