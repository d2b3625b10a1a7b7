import { parentPort, workerData } from 'node:worker_threads';
import { startDeliveryRuntime } from '../delivery/runtime.js';
import { createLogger } from '../logger.js';
import { DurabilityError } from '../store/durability.js';
import { openStore } from '../store/index.js';
import type { SyncFile } from '../store/sqlite/wal-sync.js';
import type { InboxInsert } from '../store/store.js';
import { startTracing } from '../tracing/tracing.js';
import { pipelineEffects } from './effects.js';
import type { FromPipeline, PipelineThreadData, ToPipeline } from './messages.js';
import { PipelineRunner } from './runner.js';

/**
 * The pipeline's thread. With SQLite it owns every hot write: ingest commits arrive as `append`
 * messages and run between pipeline batches, so neither an fsync nor a pipeline transaction ever
 * blocks the event loop that answers providers, and the two writers never wait on each other's lock.
 * On both stores it also runs delivery, so the transactions that create deliveries hand them to the
 * worker in memory (src/store/hand-off.ts) instead of leaving them for a claim.
 */
const data = workerData as PipelineThreadData;
/**
 * Costs ~3 ms of ingest → delivered latency at a moderate rate; under a steady stream of single
 * events (1,500/s, more than this thread keeps up with on 2 cores) it halved the delivered latency
 * (p50 1.2 s → 0.6 s).
 */
const PIPELINE_GATHER_MS = 2;
const port = parentPort;
if (!port) throw new Error('pipeline worker must run in a worker thread');

const baseLogger = createLogger(data.logLevel);
const logger = baseLogger.child({ area: 'pipeline' });
// As on the server's thread (src/main.ts): a driver's stray rejection during a database outage must
// not end this thread, which also holds the attempts in flight; transactions and leases protect the
// work, so logging it and carrying on is safe.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
// This thread's pipeline.batch and delivery.attempt spans (docs/tracing.md).
const tracing = await startTracing(process.env, baseLogger);
const store = openStore(data.store, { poolSize: 4, ...walSyncFault() });
const effects = pipelineEffects(data.softBounce);
const runner = new PipelineRunner({
  store,
  logger,
  ...(data.batchSize !== null && { batchSize: data.batchSize }),
  pollMs: data.pollMs,
  gatherMs: PIPELINE_GATHER_MS,
  effects,
  inline: data.inline,
});
const send = (message: FromPipeline) => port.postMessage(message);

/** Buffers arrive as Uint8Arrays after structured cloning; the store wants Buffers. */
function revive(rows: InboxInsert[]): InboxInsert[] {
  return rows.map((row) => ({
    ...row,
    body: Buffer.from(row.body.buffer, row.body.byteOffset, row.body.byteLength),
  }));
}

// SQLite: one connection owns every write, so delivery shares the pipeline's. PostgreSQL: a pool of
// its own, so claims and attempt records never queue behind a pipeline transaction for a connection.
const deliveryStore =
  data.delivery && !store.capabilities.oneWriter ? openStore(data.store, { poolSize: 5 }) : store;
const delivery = data.delivery
  ? await startDeliveryRuntime({
      store: deliveryStore,
      config: data.delivery.config,
      userAgent: data.delivery.userAgent,
      // From the base logger: a child of the pipeline's would print `area` twice in one JSON line.
      logger: baseLogger.child({ area: 'delivery' }),
      onAttempts: (attempts) => send({ type: 'attempts', attempts }),
    })
  : null;

// The pipeline's transactions hand fresh deliveries straight to the delivery worker on this thread.
if (delivery) effects.handOff = delivery.handOff;
runner.onBatch = (summary) => {
  send({ type: 'batch', summary });
  if (summary.deliveries > 0) delivery?.wakeForFresh();
};
port.on('message', async (message: ToPipeline) => {
  switch (message.type) {
    case 'append':
      try {
        const { replayed } = await runner.append(revive(message.rows));
        send({ type: 'appended', id: message.id, error: null, replayed });
      } catch (err) {
        logger.error({ err }, 'could not append to the inbox');
        const error = err instanceof Error ? err.message : String(err);
        send({ type: 'appended', id: message.id, error, replayed: [] });
        if (err instanceof DurabilityError) send({ type: 'fatal', error });
      }
      break;
    case 'wake':
      runner.wake();
      break;
    case 'resume':
      runner.start();
      break;
    case 'wake-delivery':
      delivery?.wake();
      break;
    case 'stop':
      await runner.stop();
      await delivery?.stop();
      if (deliveryStore !== store) await deliveryStore.close();
      await store.close();
      await tracing?.shutdown();
      port.close();
      break;
  }
});
if (!data.paused) runner.start();

/**
 * `MAILHOOK_FAULT_INJECTION=fail-wal-sync` (tests only): every sync of the WAL after an ingest commit
 * fails with EIO, as a disk that cannot write would make it.
 */
function walSyncFault(): { syncFile?: SyncFile } {
  if (process.env.MAILHOOK_FAULT_INJECTION !== 'fail-wal-sync') return {};
  logger.warn({ fault: process.env.MAILHOOK_FAULT_INJECTION }, 'fault injection on: WAL syncs fail');
  return {
    syncFile: async () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync (injected)'), { code: 'EIO' });
    },
  };
}
