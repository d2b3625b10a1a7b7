import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { AttemptMetric } from '../monitoring/metrics.js';
import { endpointEvent } from '../monitoring/system-events.js';
import { pipelineEffects, softBouncePolicyOf } from '../pipeline/effects.js';
import type { DeliveryHandOff } from '../store/hand-off.js';
import type { Store } from '../store/store.js';
import { policyFromConfig } from './policy.js';
import { ReplayRunner } from './replay-runner.js';
import { SenderThread } from './sender-thread.js';
import { DeliveryWorker } from './worker.js';

/** What the thread that runs delivery (the pipeline's) is given at start. */
export interface DeliveryRuntimeData {
  config: Pick<
    Config,
    | 'databaseUrl'
    | 'dataDir'
    | 'logLevel'
    | 'retryScheduleMs'
    | 'deliveryTimeoutMs'
    | 'disableAfterMs'
    | 'deliveryConcurrency'
    | 'allowPrivateTargets'
    | 'failingAfter'
    | 'softBounceLimit'
    | 'softBounceWindowMs'
  >;
  userAgent: string;
}

export interface DeliveryRuntime {
  wake(): void;
  /** Takes fresh deliveries at their creation (the pipeline's transactions run on this thread). */
  handOff: DeliveryHandOff;
  /** A transaction created deliveries: claim those the hand-off left in the store. */
  wakeForFresh(): void;
  /** Lets attempts in flight finish and be recorded; the caller closes the store. */
  stop(): Promise<void>;
}

/**
 * Everything that sends deliveries — delivery worker, replay runner, system events, and the sender
 * thread that makes the HTTP requests — on a given store connection. It runs on the pipeline's
 * thread, whose transactions hand it fresh deliveries in memory (hand-off.ts); on SQLite that thread
 * also owns every write, so the pipeline and delivery never wait on each other's lock.
 */
export async function startDeliveryRuntime(options: {
  store: Store;
  config: DeliveryRuntimeData['config'];
  userAgent: string;
  logger: Logger;
  onAttempts: (attempts: AttemptMetric[]) => void;
}): Promise<DeliveryRuntime> {
  const { store, config, userAgent, logger } = options;
  const effects = pipelineEffects(softBouncePolicyOf(config));
  // A single-node store has no other worker whose leases could still be live: whatever was in
  // flight when the process died is due again now, not after its lease runs out.
  if (store.capabilities.singleNode) {
    const freed = await store.releaseAllLeases();
    if (freed > 0) logger.info({ freed }, 'resumed deliveries that were in flight at the last stop');
  }
  // The HTTP exchanges run on a thread of their own, off the one that commits (sender-thread.ts).
  const client = new SenderThread({ allowPrivate: config.allowPrivateTargets, userAgent }, { log: logger });
  const worker: DeliveryWorker = new DeliveryWorker({
    store,
    sender: client,
    logger,
    policy: policyFromConfig(config),
    timeoutMs: config.deliveryTimeoutMs,
    disableAfterMs: config.disableAfterMs,
    concurrency: config.deliveryConcurrency,
    userAgent,
    failingAfter: config.failingAfter,
    onAttempts: options.onAttempts,
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
  worker.start();
  void replays.tick();
  const handOff = faultInjected(worker, logger);
  return {
    wake() {
      worker.wake();
      void replays.tick();
    },
    handOff,
    wakeForFresh() {
      worker.wakeForFresh();
    },
    async stop() {
      clearInterval(replayTimer);
      await worker.stop();
      await client.close();
    },
  };
}

/**
 * `MAILHOOK_FAULT_INJECTION=kill-before-hand-off:<n>` (tests only): SIGKILL at the n-th hand-off,
 * after its transaction committed and before the worker starts anything, the moment the crash test
 * for leased-at-creation deliveries needs.
 */
function faultInjected(worker: DeliveryWorker, logger: Logger): DeliveryHandOff {
  const match = /^kill-before-hand-off:(\d+)$/.exec(process.env.MAILHOOK_FAULT_INJECTION ?? '');
  if (!match) return worker;
  let left = Number(match[1]);
  logger.warn(
    { fault: process.env.MAILHOOK_FAULT_INJECTION },
    'fault injection on: this process will kill itself',
  );
  return {
    busy: () => worker.busy(),
    reserve: (endpoint, now) => worker.reserve(endpoint, now),
    release: (items) => worker.release(items),
    accept(items) {
      left--;
      if (left <= 0) process.kill(process.pid, 'SIGKILL');
      worker.accept(items);
    },
  };
}
