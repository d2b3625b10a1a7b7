import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { type ApiContext, apiRoutes } from './api/index.js';
import type { Config } from './config.js';
import { MailhookError, toMailhookError } from './errors.js';
import { httpFetcher } from './ingest/fetcher.js';
import { type AppendInbox, InboxWriter } from './ingest/inbox-writer.js';
import { ingestRoutes } from './ingest/route.js';
import { SourceCache } from './ingest/source-cache.js';
import { createLogger, type Logger } from './logger.js';
import { pipelineEffects } from './pipeline/effects.js';
import type { Fetcher } from './providers/types.js';
import type { Store } from './store/store.js';

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
  /** How adapters reach out (SNS certificates and confirmations); tests inject their own. */
  fetcher?: Fetcher;
  /** Where ingest commits go; default the store. The server hands them to the pipeline thread. */
  appendInbox?: AppendInbox;
  /** Most ingest requests per commit (1 turns group commit off; benchmarks compare both). */
  inboxBatchMax?: number;
}

export interface RouteInfo {
  method: string;
  url: string;
}

export interface App {
  server: FastifyInstance;
  /** Every route registered, for auth tests and documentation. */
  routes: RouteInfo[];
  writer: InboxWriter;
  sources: SourceCache;
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

  const server = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    // Unknown fields are refused rather than silently dropped, so a typo never goes unnoticed.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  });
  const routes: RouteInfo[] = [];
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
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
  server.get('/readyz', async () => {
    try {
      await store.ping();
    } catch (err) {
      throw new MailhookError('MH_ERR_NOT_READY', 'The store does not answer', { cause: err });
    }
    return { status: 'ready' };
  });

  const publicUrl = () => config.publicUrl ?? listeningUrl(server, config);
  const fetcher = options.fetcher ?? httpFetcher;
  await server.register(async (scope) =>
    ingestRoutes(scope, { config, store, sources, writer, now, publicUrl, fetcher }),
  );
  const effects = pipelineEffects({ threshold: config.softBounceLimit, windowMs: config.softBounceWindowMs });
  const api: ApiContext = { store, effects, config, publicUrl, sources, now, wakePipeline, wakeDelivery };
  await server.register(async (scope) => apiRoutes(scope, api), { prefix: '/v1' });
  // Requests already accepted finish their commit before the store is closed by the caller.
  server.addHook('onClose', async () => writer.drain());
  return { server, routes, writer, sources };
}
