import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/main.js';

/**
 * The whole server exactly as `mailhook serve` runs it (src/main.ts: ingest, the pipeline thread
 * and the delivery thread), for the delivery, end-to-end and backlog scenarios, which drive it only
 * through its HTTP API. Endpoints on 127.0.0.1 need MAILHOOK_ALLOW_PRIVATE_TARGETS. Options as JSON
 * in argv[2]: `databaseUrl` for PostgreSQL (else a fresh SQLite file) and extra variables.
 */
interface Options {
  databaseUrl?: string;
  apiKey: string;
  env?: Record<string, string>;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const dir = mkdtempSync(join(tmpdir(), 'mailhook-bench-server-'));
const config = loadConfig({
  MAILHOOK_DATA_DIR: dir,
  MAILHOOK_API_KEY: options.apiKey,
  PORT: '0',
  DATABASE_URL: options.databaseUrl ?? '',
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_LOG_LEVEL: 'warn',
  ...options.env,
  // For experiments: variables for every server a bench run starts (e.g. a setting's on/off pair).
  ...(process.env.MAILHOOK_BENCH_SERVER_ENV ? JSON.parse(process.env.MAILHOOK_BENCH_SERVER_ENV) : {}),
});
const server = await startServer(config);
process.stdout.write(`${JSON.stringify({ url: server.url, admin: server.url, dataDir: dir })}\n`);

process.on('SIGTERM', async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
