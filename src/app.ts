import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { type ApiContext, apiRoutes } from './api/index.js';
import { registerOpenApi } from './api/openapi.js';
import type { Config } from './config.js';
import { MailhookError, toMailhookError } from './errors.js';
import { type ConnectionCounts, httpFront, httpLimitsOf, readOpenFileLimit } from './http/server.js';
import { httpFetcher } from './ingest/fetcher.js';
import { type AppendInbox, InboxWriter } from './ingest/inbox-writer.js';
import { ingestRoutes } from './ingest/route.js';
import { SourceCache } from './ingest/source-cache.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './monitoring/metrics.js';
import { requireMetricsToken } from './monitoring/metrics-auth.js';
import type { SourceMonitor } from './monitoring/source-monitor.js';
import { pipelineEffects, softBouncePolicyOf } from './pipeline/effects.js';
import type { Fetcher } from './providers/types.js';
import { isStoreOutage } from './store/data-refusal.js';
import type { Store } from './store/store.js';
import { webRoutes } from './web/serve.js';

export interface BuildOptions {
  config: Config;
  store: Store;
  logger?: Logger;
  /** The clock, injectable for tests of signature freshness. */
  now?: () => Date;
  /** Called when new inbox rows are committed or requeued (wakes the pipeline). */
  wakePipeline?: () => void;
  /** Called when deliveries become due through the API (retry, replay, test, resume). */
  wakeDelivery?: () => void;
  /** Wakes the reconciliation runner after a job is created. */
  wakeReconcile?: () => void;
  /** How adapters reach out (SNS certificates and confirmations); tests inject their own. */
  fetcher?: Fetcher;
  /** Where ingest commits go; default the store. The server hands them to the pipeline thread. */
  appendInbox?: AppendInbox;
  /** The process's metrics; one is created when not given. */
  metrics?: Metrics;
  /** Silent-source detection, told of every stored request. */
  sourceMonitor?: SourceMonitor;
  /** Most ingest requests per commit (1 turns group commit off; benchmarks compare both). */
  inboxBatchMax?: number;
  /** The open-file limit the connection cap must fit under; default read from the system. */
  openFileLimit?: number | null;
}

export interface RouteInfo {
  method: string;
  url: string;
}

export interface App {
  server: FastifyInstance;
  metrics: Metrics;
  /** Every route registered, for auth tests and documentation. */
  routes: RouteInfo[];
  writer: InboxWriter;
  sources: SourceCache;
  /** Client connections the server holds right now, by state. */
  connections(): ConnectionCounts;
}

/** Maps Fastify's own errors (body limits, content types, schema validation) onto our codes. */
function mailhookErrorOf(err: FastifyError): MailhookError {
  if (err instanceof MailhookError) return err;
  if (err.validation) return new MailhookError('MH_ERR_VALIDATION', err.message);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MailhookError('MH_ERR_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MailhookError('MH_ERR_UNSUPPORTED_MEDIA_TYPE');
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new MailhookError('MH_ERR_VALIDATION', err.message);
  }
  // A database that is down or full is not a bug: the client should retry, as providers do on ingest.
  if (isStoreOutage(err)) return new MailhookError('MH_ERR_STORE_UNAVAILABLE', undefined, { cause: err });
  return toMailhookError(err);
}

/** `http://host:port` of the server, with the real port once it listens (PORT=0 picks a free one). */
export function listeningUrl(server: FastifyInstance, config: Pick<Config, 'host' | 'port'>): string {
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}

/** Builds the HTTP application; never listens, so tests drive it with `inject()`. */
export async function build(options: BuildOptions): Promise<App> {
  const { config, store } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? (() => new Date());
  const wakePipeline = options.wakePipeline ?? (() => {});
  const wakeDelivery = options.wakeDelivery ?? (() => {});

  // The connection cap and the timeouts that cut off clients that say nothing or trickle a request
  // (slowloris), so idle connections can neither use up the file descriptors nor lock others out.
  const limits = httpLimitsOf(
    config,
    options.openFileLimit === undefined ? readOpenFileLimit() : options.openFileLimit,
  );
  if (limits.loweredFrom !== null) {
    logger.warn(
      { configured: limits.loweredFrom, maxConnections: limits.maxConnections },
      'MAILHOOK_MAX_CONNECTIONS lowered to fit the open-file limit; raise it (ulimit -n, LimitNOFILE) to hold more',
    );
  }
  const front = httpFront(limits);
  const server = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    serverFactory: front.serverFactory,
    // Path parameters hold addresses (up to 320 bytes) and Message-IDs (up to 998), not just ids;
    // Fastify's default of 100 characters answered valid lookups with its own 414.
    routerOptions: { maxParamLength: 1100 },
    // The router's own refusals (a path that does not decode, a parameter over the limit) in the
    // documented error shape rather than Fastify's.
    frameworkErrors: (error, _request, reply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'A path segment is longer than 1100 characters'
          : 'The URL path is not valid (check its percent-encoding)';
      void (reply as FastifyReply).code(400).send(new MailhookError('MH_ERR_VALIDATION', message).toJSON());
    },
    // Unknown fields are refused rather than silently dropped, so a typo never goes unnoticed.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  });
  server.addHook('preParsing', front.expectContinue);
  server.addHook('preClose', async () => front.destroyClosing());
  const routes: RouteInfo[] = [];
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  registerOpenApi(server);
  const sources = new SourceCache(store);
  const writer = new InboxWriter({
    append: options.appendInbox ?? ((rows) => store.appendInbox(rows)),
    onCommitted: wakePipeline,
    ...(options.inboxBatchMax && { maxBatch: options.inboxBatchMax }),
  });

  server.setErrorHandler((err: FastifyError, request, reply) => {
    const error = mailhookErrorOf(err);
    if (error.status >= 500) request.log.error({ err: error.cause ?? err }, error.message);
    return reply.code(error.status).send(error.toJSON());
  });
  server.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        new MailhookError(
          'MH_ERR_NOT_FOUND',
          `Route ${request.method} ${request.url.split('?')[0]} not found`,
        ).toJSON(),
      ),
  );

  server.get('/healthz', async () => ({ status: 'ok' }));
  /** Not ready when the store does not answer or the pipeline has fallen too far behind. */
  server.get('/readyz', async () => {
    let counts: Awaited<ReturnType<Store['operationalCounts']>>;
    try {
      counts = await store.operationalCounts(now());
    } catch (err) {
      throw new MailhookError('MH_ERR_NOT_READY', 'The store does not answer', { cause: err });
    }
    const ageMs = counts.oldestPendingAt ? now().getTime() - counts.oldestPendingAt.getTime() : 0;
    if (config.readyMaxBacklogMs > 0 && ageMs > config.readyMaxBacklogMs) {
      throw new MailhookError(
        'MH_ERR_NOT_READY',
        `The oldest unprocessed inbox row is ${Math.round(ageMs / 1000)} s old`,
      );
    }
    return { status: 'ready', inbox_backlog: counts.pendingInbox };
  });

  // Asked on every ingest request (signatures that cover the URL), so the bound address is read once.
  let boundUrl: string | null = null;
  const publicUrl = () => {
    if (config.publicUrl) return config.publicUrl;
    if (boundUrl) return boundUrl;
    const url = listeningUrl(server, config);
    if (server.server.listening) boundUrl = url;
    return url;
  };
  const fetcher = options.fetcher ?? httpFetcher;
  const metrics = options.metrics ?? new Metrics(store, { now });
  const monitor = options.sourceMonitor;
  await server.register(async (scope) =>
    ingestRoutes(scope, {
      config,
      store,
      sources,
      writer,
      now,
      publicUrl,
      fetcher,
      metrics,
      ...(monitor && { onStored: (id: string, at: Date) => monitor.record(id, at) }),
    }),
  );
  server.get('/metrics', async (request, reply) => {
    requireMetricsToken(request.headers.authorization, config.metricsToken);
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const effects = pipelineEffects(softBouncePolicyOf(config));
  const api: ApiContext = {
    store,
    effects,
    config,
    publicUrl,
    sources,
    now,
    wakePipeline,
    wakeDelivery,
    ...(options.wakeReconcile && { wakeReconcile: options.wakeReconcile }),
  };
  await server.register(async (scope) => apiRoutes(scope, api), { prefix: '/v1' });
  await server.register(webRoutes);
  // Requests already accepted finish their commit before the store is closed by the caller.
  server.addHook('onClose', async () => writer.drain());
  return { server, metrics, routes, writer, sources, connections: front.counts };
}
