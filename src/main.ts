import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { ensureAdminKey } from './api/index.js';
import { build, listeningUrl } from './app.js';
import { type Config, ConfigError } from './config.js';
import { applyConfigFile } from './config-file.js';
import { warnUnknownVariables } from './config-typos.js';
import { createLogger, type Logger } from './logger.js';
import { type AttemptMetric, Metrics } from './monitoring/metrics.js';
import { DEFAULT_SILENCE_POLICY, SourceMonitor } from './monitoring/source-monitor.js';
import { pipelineEffects, softBouncePolicyOf } from './pipeline/effects.js';
import { PipelineThread } from './pipeline/pipeline-thread.js';
import { httpGet } from './reconcile/http-get.js';
import { ReconcileRunner } from './reconcile/runner.js';
import { ReconcileScheduler } from './reconcile/scheduler.js';
import { RetentionPruner } from './retention/pruner.js';
import { openStore } from './store/index.js';
import type { PublishedEvent } from './store/store.js';
import { startTracing } from './tracing/tracing.js';
import { VERSION } from './version.js';

export interface RunningServer {
  url: string;
  /** Stops accepting, finishes committing what was accepted, stops the workers, closes the store. */
  close(): Promise<void>;
}

/** config → store.open → migrate → admin key → workers → listen. */
export async function startServer(config: Config): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  warnUnknownVariables(process.env, logger);
  // A driver's stray rejection during a database outage must not take the whole node down: work
  // in flight is protected by transactions and leases, so logging it and carrying on is safe.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  // Ingest spans; the pipeline thread, which also runs delivery, starts its own (docs/tracing.md).
  const tracing = await startTracing(process.env, logger);
  const store = openStore(config);
  if (!config.databaseUrl) warnIfDataDirShared(config.dataDir, logger);
  const applied = await store.migrate();
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const { generated, configuredRevoked } = await ensureAdminKey(store, config.apiKey);
  if (configuredRevoked) {
    // A revocation is for good (a leaked key must not come back with a restart): say so loudly.
    logger.warn(
      'MAILHOOK_API_KEY was revoked through the API and authenticates nothing; set a new value to use one',
    );
  }
  if (generated) {
    // Printed once, to the terminal only: the store keeps nothing but its hash.
    process.stdout.write(
      `\nmailhook generated an admin API key (shown once, store it now):\n\n  ${generated}\n\n` +
        'Use it as "Authorization: Bearer <key>" on /v1, or set MAILHOOK_API_KEY to choose your own.\n\n',
    );
  }

  const metrics = new Metrics(store, { processMetrics: true });
  const recordAttempts = (attempts: AttemptMetric[]) => metrics.recordAttempts(attempts);
  const deliveryData = { config, userAgent: `mailhook/${VERSION}` };
  // Delivery runs on the pipeline thread on both stores: the transactions that create deliveries hand
  // them to its worker in memory (src/store/hand-off.ts), and on SQLite one thread owns every write.
  const pipeline = new PipelineThread({
    config,
    logger: logger.child({ area: 'pipeline' }),
    delivery: deliveryData,
    onAttempts: recordAttempts,
    onBatch: (summary) => metrics.recordBatch(summary),
  });
  metrics.observePipelineThread(() => pipeline.utilization());
  const delivery = { wake: () => pipeline.wakeDelivery() };
  const effects = pipelineEffects(softBouncePolicyOf(config));
  const publishSystem = async (events: PublishedEvent[]) => {
    await store.publishEvents(events, effects, new Date());
    delivery.wake();
  };
  const reconcile = new ReconcileRunner({
    store,
    effects,
    get: httpGet(),
    logger: logger.child({ area: 'reconcile' }),
    owner: `r_${randomBytes(6).toString('hex')}`,
    publishSystem,
    onStored: () => delivery.wake(),
  });
  const reconcileScheduler = new ReconcileScheduler({
    store,
    logger: logger.child({ area: 'reconcile' }),
    everyMs: config.reconcileEveryMs,
    wake: () => reconcile.wake(),
  });
  const monitor = new SourceMonitor(
    store,
    async (events) => {
      await publishSystem(events);
      // A silent source may be one whose provider stopped posting: read back what it has since.
      for (const { event } of events)
        if (event.type === 'system.source.silent')
          await reconcileScheduler.onSilent(
            String(event.data.metadata.source_id),
            new Date(String(event.data.metadata.last_request_at)),
          );
    },
    logger.child({ area: 'monitor' }),
    { ...DEFAULT_SILENCE_POLICY, minSilenceMs: config.silenceMinMs },
  );
  // The server keeps the store for reads and API writes. Ingest commits go through the pipeline thread,
  // which processes each group in its commit when it is caught up (PipelineRunner.append). With SQLite
  // that thread owns the write path; with PostgreSQL it also keeps a transaction that fails when the
  // connection drops from taking the server down: an error there restarts the thread instead.
  const { server } = await build({
    config,
    store,
    logger,
    wakePipeline: () => pipeline.wake(),
    wakeDelivery: () => delivery.wake(),
    metrics,
    sourceMonitor: monitor,
    appendInbox: (rows) => pipeline.appendInbox(rows),
    wakeReconcile: () => reconcile.wake(),
  });
  // MAILHOOK_CONFIG: sources and endpoints as code, applied before anything runs or listens.
  await applyConfigFile({ env: process.env, server, store, logger: logger.child({ area: 'config-file' }) });
  const pruner = new RetentionPruner({
    store,
    retention: config.retention,
    logger: logger.child({ area: 'retention' }),
    onPruned: (table, rows) => metrics.prunedRows.inc({ table }, rows),
  });
  pipeline.start();
  monitor.start();
  try {
    await server.listen({ host: config.host, port: config.port });
  } catch (err) {
    // What started before must not keep the process running with nothing listening.
    monitor.stop();
    await pipeline.stop();
    await store.close();
    await tracing?.shutdown();
    throw listenFailure(err, config);
  }
  pruner.start();
  await reconcileScheduler.start();
  reconcile.start();
  const url = listeningUrl(server, config);
  logger.info({ url, store: store.dialect, dataDir: config.dataDir }, 'mailhook listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    close() {
      closing ??= (async () => {
        monitor.stop();
        reconcileScheduler.stop();
        await reconcile.stop();
        await pruner.stop();
        await server.close();
        await pipeline.stop();
        await store.close();
        await tracing?.shutdown();
        logger.info('mailhook stopped');
      })();
      return closing;
    },
  };
}

/**
 * A new data directory is created 0700 and the database files are always 0600, but a directory that
 * already existed (made by hand, or by a version before 0700) keeps its mode: it may be shared on
 * purpose, and changing /var/lib or a home directory is not ours to do. It is named instead.
 */
function warnIfDataDirShared(dataDir: string, logger: Logger): void {
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { dataDir, mode: mode.toString(8) },
      'MAILHOOK_DATA_DIR is open to other users (the database files in it are 0600); chmod 700 it',
    );
  }
}

/** A listen failure the user fixes in HOST or PORT, as the configuration error it is (exit code 78). */
function listenFailure(err: unknown, config: Pick<Config, 'host' | 'port'>): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const address = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE')
    return new ConfigError(
      'PORT',
      `${address} is already in use by another process: stop it, or choose another PORT`,
    );
  if (code === 'EACCES')
    return new ConfigError(
      'PORT',
      `listening on ${address} is not permitted (ports below 1024 need privileges)`,
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME')
    return new ConfigError(
      'HOST',
      `cannot listen on "${config.host}" (${code}): use an address of this machine, such as 127.0.0.1 or 0.0.0.0`,
    );
  return err;
}

/** Runs until SIGTERM/SIGINT, then drains; a second signal exits at once. */
export async function serveUntilSignalled(config: Config): Promise<void> {
  const running = await startServer(config);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`mailhook: error while stopping after ${signal}: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
