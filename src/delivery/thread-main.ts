import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../logger.js';
import { endpointEvent } from '../monitoring/system-events.js';
import { pipelineEffects } from '../pipeline/effects.js';
import { openStore } from '../store/index.js';
import { DeliveryClient } from './http-client.js';
import { policyFromConfig } from './policy.js';
import { ReplayRunner } from './replay-runner.js';
import type { DeliveryThreadData, FromDelivery, ToDelivery } from './thread-messages.js';
import { DeliveryWorker } from './worker.js';

/**
 * The delivery thread: its own store connection, HTTP client, delivery worker and replay runner, so
 * outbound traffic and its bookkeeping never compete with the ingest path's event loop.
 */
const { config, userAgent } = workerData as DeliveryThreadData;
const port = parentPort;
if (!port) throw new Error('the delivery thread must run in a worker thread');

const logger = createLogger(config.logLevel).child({ area: 'delivery' });
const send = (message: FromDelivery) => port.postMessage(message);
const effects = pipelineEffects({ threshold: config.softBounceLimit, windowMs: config.softBounceWindowMs });
// Delivery bookkeeping may be redone after a power cut (at-least-once), so it skips the fsync.
const store = openStore(config, { poolSize: 5, synchronous: 'NORMAL' });
// A single-node store has no other worker whose leases could still be live: whatever was in flight
// when the process died is due again now, not after its lease runs out.
if (store.capabilities.singleNode) {
  const freed = await store.releaseAllLeases();
  if (freed > 0) logger.info({ freed }, 'resumed deliveries that were in flight at the last stop');
}
const client = new DeliveryClient({ allowPrivate: config.allowPrivateTargets, userAgent });
const worker = new DeliveryWorker({
  store,
  sender: client,
  logger,
  policy: policyFromConfig(config),
  timeoutMs: config.deliveryTimeoutMs,
  disableAfterMs: config.disableAfterMs,
  concurrency: config.deliveryConcurrency,
  userAgent,
  failingAfter: config.failingAfter,
  onAttempts: (attempts) => send({ type: 'attempts', attempts }),
  onTransitions: async (transitions) => {
    for (const t of transitions) {
      logger.warn(
        { endpointId: t.endpointId, deliveryId: t.deliveryId, reason: t.reason },
        `endpoint ${t.kind}`,
      );
    }
    await store.publishEvents(transitions.map(endpointEvent), effects, new Date());
    worker.wake();
  },
});
const replays = new ReplayRunner(store, logger, () => worker.wake());
const replayTimer = setInterval(() => void replays.tick(), 1000);

port.on('message', async (message: ToDelivery) => {
  if (message.type === 'wake') {
    worker.wake();
    void replays.tick();
  } else if (message.type === 'stop') {
    clearInterval(replayTimer);
    await worker.stop();
    await client.close();
    await store.close();
    send({ type: 'stopped' });
    port.close();
  }
});
worker.start();
void replays.tick();
send({ type: 'started' });
