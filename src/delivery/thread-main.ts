import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import { startTracing } from '../tracing/tracing.js';
import { startDeliveryRuntime } from './runtime.js';
import type { DeliveryThreadData, FromDelivery, ToDelivery } from './thread-messages.js';

/**
 * The delivery thread (PostgreSQL): its own store connection, HTTP client, delivery worker and replay
 * runner, so outbound traffic and its bookkeeping never compete with the ingest path's event loop.
 */
const { config, userAgent } = workerData as DeliveryThreadData;
const port = parentPort;
if (!port) throw new Error('the delivery thread must run in a worker thread');

const logger = createLogger(config.logLevel).child({ area: 'delivery' });
const send = (message: FromDelivery) => port.postMessage(message);
// This thread's delivery.attempt spans (docs/tracing.md).
const tracing = await startTracing(process.env, logger);
// Delivery bookkeeping may be redone after a power cut (at-least-once), so it skips the fsync.
const store = openStore(config, { poolSize: 5, synchronous: 'NORMAL' });
const runtime = await startDeliveryRuntime({
  store,
  config,
  userAgent,
  logger,
  onAttempts: (attempts) => send({ type: 'attempts', attempts }),
});

port.on('message', async (message: ToDelivery) => {
  if (message.type === 'wake') runtime.wake();
  else if (message.type === 'stop') {
    await runtime.stop();
    await store.close();
    await tracing?.shutdown();
    port.close();
  }
});
