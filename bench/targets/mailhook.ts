import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { build } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { newId } from '../../src/ids.js';
import { PipelineThread } from '../../src/pipeline/pipeline-thread.js';
import { openStore } from '../../src/store/index.js';

/**
 * mailhook's real ingest path and pipeline in one process, on a fresh SQLite file or (with
 * `databaseUrl`, a database the runner created) PostgreSQL, wired as src/main.ts wires them: with
 * SQLite the ingest commits go through the pipeline thread that owns the write path, with
 * PostgreSQL straight to the store. One source: SendGrid with the load generator's key, or Postmark
 * with basic auth. Bench-only routes report the event-loop delay (how long the pipeline blocks
 * ingest) and wait for the pipeline to drain. Options come as JSON in argv[2].
 */
interface Options {
  provider?: 'sendgrid' | 'postmark';
  /** sendgrid: base64 DER public key. */
  publicKey?: string;
  /** postmark: `user:password`. */
  basicAuth?: string;
  databaseUrl?: string;
  inboxBatchMax?: number;
  pipelineBatch?: number;
  pipeline?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const dir = mkdtempSync(join(tmpdir(), 'mailhook-bench-'));
const config = loadConfig({
  MAILHOOK_DATA_DIR: dir,
  MAILHOOK_API_KEY: 'bench-key-0123456789abcdef',
  PORT: '0',
  DATABASE_URL: options.databaseUrl ?? '',
  MAILHOOK_LOG_LEVEL: 'warn',
  // As in mailhook-server.ts: variables for every server a bench run starts.
  ...(process.env.MAILHOOK_BENCH_SERVER_ENV ? JSON.parse(process.env.MAILHOOK_BENCH_SERVER_ENV) : {}),
});
const store = openStore(config);
await store.migrate();
const logger = pino({ level: 'warn' });
const pipeline = new PipelineThread({
  config,
  logger,
  paused: options.pipeline === false,
  ...(options.pipelineBatch && { batchSize: options.pipelineBatch }),
});
const app = await build({
  config,
  store,
  logger,
  wakePipeline: () => pipeline.wake(),
  // As src/main.ts wires it: ingest commits go through the pipeline thread on both stores.
  appendInbox: (rows) => pipeline.appendInbox(rows),
  ...(options.inboxBatchMax && { inboxBatchMax: options.inboxBatchMax }),
});
const sourceId = newId('source');
const now = new Date();
const [username = '', password = ''] = (options.basicAuth ?? '').split(':');
await store.createSource({
  id: sourceId,
  name: 'bench',
  provider: options.provider ?? 'sendgrid',
  config:
    options.provider === 'postmark'
      ? { basic_auth: { username, password } }
      : { public_key: options.publicKey ?? '' },
  enabled: true,
  state: {},
  createdAt: now,
  updatedAt: now,
});

const delay = monitorEventLoopDelay({ resolution: 1 });
/** The pipeline thread's utilization and the rows committed at the last reset. */
let since = { utilization: pipeline.utilization(), rows: 0 };
app.server.post('/__bench/reset', async () => {
  delay.reset();
  delay.enable();
  since = { utilization: pipeline.utilization(), rows: app.writer.stats.rows };
  return {};
});
/**
 * How busy the pipeline thread (SQLite's one writer) was since the reset, and its busy time per
 * ingest post committed meanwhile: a row bound by that thread's turn shows it near 1.
 */
function pipelineThread(): { busy: number; busyUsPerPost: number } | null {
  const now = pipeline.utilization();
  if (!now || !since.utilization || now.thread !== since.utilization.thread) return null;
  const delta = performance.eventLoopUtilization(now, since.utilization);
  const rows = app.writer.stats.rows - since.rows;
  return {
    busy: Number(delta.utilization.toFixed(3)),
    busyUsPerPost: rows > 0 ? Math.round((delta.active * 1000) / rows) : 0,
  };
}
app.server.get('/__bench/stats', async () => ({
  eventLoopDelayMs: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
  writer: app.writer.stats,
  pipelineThread: pipelineThread(),
  pipeline: pipeline.totals,
  inbox: await store.countInbox(),
  events: await store.countEvents(),
}));
app.server.post('/__bench/drain', async () => {
  const started = performance.now();
  if (options.pipeline === false) pipeline.resume();
  for (;;) {
    const counts = await store.countInbox();
    if (counts.pending === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ms: performance.now() - started };
});

pipeline.start();
await app.server.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${port}/ingest/${sourceId}`, admin: `http://127.0.0.1:${port}` })}\n`,
);

process.on('SIGTERM', async () => {
  await app.server.close();
  await pipeline.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
