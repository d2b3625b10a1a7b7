import { createHash } from 'node:crypto';
import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import type { Metrics } from '../monitoring/metrics.js';
import { findAdapter } from '../providers/registry.js';
import type { Fetcher, RawRequest, VerifyContext } from '../providers/types.js';
import type { Store } from '../store/store.js';
import { activeTracer, contextOfHeaders, traceparentOf, traceSafely } from '../tracing/tracing.js';
import type { AppendOutcome, InboxWriter } from './inbox-writer.js';
import { SnsCertificates } from './sns-certificates.js';
import type { SourceCache } from './source-cache.js';

export interface IngestOptions {
  config: Pick<Config, 'maxBodyBytes' | 'signatureToleranceSec' | 'snsCertDir'>;
  store: Store;
  sources: SourceCache;
  writer: InboxWriter;
  now: () => Date;
  publicUrl: () => string;
  fetcher: Fetcher;
  metrics: Metrics;
  /** Told of every stored request (silent-source detection). */
  onStored?: (sourceId: string, at: Date) => void;
}

/**
 * A commit that has not finished by then is answered 503 so the provider retries instead of timing
 * out; if it commits later after all, the retry is absorbed by the dedup key.
 */
const COMMIT_DEADLINE_MS = 10_000;

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not commit within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const OUTCOMES: Record<number, string> = {
  200: 'accepted',
  401: 'unauthorized',
  404: 'not_found',
  413: 'too_large',
  503: 'unavailable',
};

/** Credentials that verified the request have done their job; they are never written to disk. */
const REDACTED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function headersOf(request: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * Headers about the connection, not the request: verification has seen them, no parser reads them,
 * and at one short event per request they were a fifth of its row (measured 2026-12-06).
 */
function isTransportHeader(name: string): boolean {
  return TRANSPORT_HEADERS.has(name) || name.startsWith('sec-fetch-') || name.startsWith('sec-ch-');
}

const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'expect',
  'te',
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'pragma',
  'priority',
  'upgrade-insecure-requests',
]);

/**
 * The headers kept with the raw request: without transport headers, and with credentials redacted,
 * including the secret header a credential-only source is configured with (e.g. `x-webhook-secret`).
 */
function storedHeaders(
  headers: Record<string, string>,
  config: Record<string, unknown>,
): Record<string, string> {
  const secretHeader = (config.header as { name?: unknown } | undefined)?.name;
  const secret = typeof secretHeader === 'string' ? secretHeader.toLowerCase() : undefined;
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (isTransportHeader(name)) continue;
    stored[name] = REDACTED_HEADERS.has(name) || name === secret ? '[redacted]' : value;
  }
  return stored;
}

function withoutSecretParams(query: string, names: readonly string[] | undefined): string {
  if (!names?.length || query === '') return query;
  const params = new URLSearchParams(query);
  let changed = false;
  for (const name of names) {
    if (params.has(name)) {
      params.set(name, '[redacted]');
      changed = true;
    }
  }
  return changed ? params.toString() : query;
}

function rawRequestOf(request: FastifyRequest, receivedAt: Date): RawRequest {
  const url = request.raw.url ?? request.url;
  const q = url.indexOf('?');
  return {
    method: request.method,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    headers: headersOf(request),
    body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    receivedAt,
  };
}

/**
 * `POST /ingest/:sourceId` (and GET for providers that post query strings): verify, run the
 * provider's handshake if it is one, append to the inbox (group commit), answer. The body stays raw
 * bytes because signatures cover them exactly; nothing is parsed here — the pipeline does that.
 */
export async function ingestRoutes(scope: FastifyInstance, options: IngestOptions): Promise<void> {
  const { config, store, sources, writer, now, metrics } = options;
  /** The source each request resolved to, so the answer is counted without looking it up again. */
  const resolved = new WeakMap<FastifyRequest, { id: string; provider: string }>();
  // Outcomes are counted from the answer, so 413s decided by the body limit (before the handler ran)
  // are counted too; those still need the lookup, and a store that is down must not stop the count.
  scope.addHook('onResponse', async (request, reply) => {
    const params = request.params as { sourceId?: string } | undefined;
    const source =
      resolved.get(request) ??
      (params?.sourceId ? await sources.get(params.sourceId).catch(() => null) : null);
    metrics.ingestRequests.inc({
      source_id: source?.id ?? 'unknown',
      provider: source?.provider ?? 'unknown',
      outcome: OUTCOMES[reply.statusCode] ?? 'other',
    });
  });
  const tracer = activeTracer();
  const spans = tracer ? traceRequests(scope, tracer, resolved) : null;
  const certificates = new SnsCertificates(options.fetcher, config.snsCertDir);
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );

  async function sourceFor(id: string) {
    // No id holds a NUL, and PostgreSQL would fail the lookup with an error, not a miss.
    if (id.includes('\u0000')) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
    let source: Awaited<ReturnType<SourceCache['get']>>;
    try {
      source = await sources.get(id);
    } catch (err) {
      // The store is down: the provider must retry, not give up on a 500.
      throw new MailhookError('MH_ERR_STORE_UNAVAILABLE', undefined, { cause: err });
    }
    const adapter = source?.enabled ? findAdapter(source.provider) : undefined;
    // Unknown, disabled and deleted sources get the same answer, so ids cannot be probed.
    if (!source || !adapter) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
    return { source, adapter };
  }

  async function ingest(request: FastifyRequest<{ Params: { sourceId: string } }>, reply: FastifyReply) {
    const receivedAt = now();
    const { source, adapter } = await sourceFor(request.params.sourceId);
    resolved.set(request, source);
    if (request.method === 'HEAD' || (request.method === 'GET' && !adapter.acceptsGet)) {
      // A browser or a provider's URL check: the URL is right, but events must be POSTed.
      return reply.code(200).send({ status: 'ok', provider: source.provider });
    }
    const raw = rawRequestOf(request, receivedAt);
    const ctx: VerifyContext = {
      now: receivedAt,
      toleranceSec:
        config.signatureToleranceSec === 0
          ? 0
          : Math.max(config.signatureToleranceSec, adapter.minToleranceSec ?? 0),
      ingestUrl: `${options.publicUrl()}/ingest/${source.id}`,
      snsCertificate: (url) => certificates.get(url),
      fetch: options.fetcher,
    };
    const refuse = (reason: string, retryable = false) => {
      request.log.info({ sourceId: source.id, reason }, 'ingest request refused');
      metrics.verificationFailures.inc({ provider: source.provider, reason });
      throw new MailhookError(
        retryable ? 'MH_ERR_VERIFICATION_UNAVAILABLE' : 'MH_ERR_SIGNATURE_INVALID',
        reason,
      );
    };
    const verification = await adapter.verify(raw, source, ctx);
    if (!verification.ok) return refuse(verification.reason, verification.retryable);

    const handshake = adapter.handshake ? await adapter.handshake(raw, source, ctx) : null;
    if (handshake?.state) {
      await store.updateSourceState(source.id, handshake.state, receivedAt);
      sources.invalidate(source.id);
      request.log.info({ sourceId: source.id, state: handshake.state }, 'source handshake');
    }
    if (handshake && !handshake.store)
      return reply.code(handshake.status).send(handshake.body ?? { status: 'ok' });

    const id = newId('inbox');
    const span = spans?.get(request);
    const trace = span
      ? traceSafely(
          'tagging the ingest span',
          () => {
            span.setAttribute('mailhook.inbox.id', id);
            return traceparentOf(span);
          },
          undefined,
        )
      : undefined;
    const oneTimeToken = verification.oneTimeToken && {
      ...verification.oneTimeToken,
      bodyHash: createHash('sha256').update(raw.body).digest('hex'),
    };
    let outcome: AppendOutcome;
    try {
      const headers = storedHeaders(raw.headers, source.config);
      const query = withoutSecretParams(raw.query, adapter.secretQueryParams);
      outcome = await withDeadline(
        writer.add({
          id,
          sourceId: source.id,
          provider: source.provider,
          ...raw,
          headers,
          query,
          ...(oneTimeToken && { oneTimeToken }),
          ...(trace && { trace }),
        }),
        COMMIT_DEADLINE_MS,
      );
    } catch (err) {
      request.log.error({ err, sourceId: source.id }, 'could not store ingest request');
      throw new MailhookError('MH_ERR_STORE_UNAVAILABLE', undefined, { cause: err });
    }
    // Decided in the commit, against every node's earlier requests: the token is bound to another body.
    if (outcome === 'replayed') return refuse('token was already used with another body (replay)');
    options.onStored?.(source.id, receivedAt);
    return reply.code(handshake?.status ?? 200).send({ status: 'stored', id });
  }

  const routeOptions = { bodyLimit: config.maxBodyBytes };
  scope.post<{ Params: { sourceId: string } }>('/ingest/:sourceId', routeOptions, ingest);
  // GET also answers HEAD: Mandrill checks a webhook URL with a HEAD request when it is added.
  scope.get<{ Params: { sourceId: string } }>('/ingest/:sourceId', routeOptions, ingest);
}

/** Answers that mean the request was not taken: a provider's retry, or a forgery, is worth seeing. */
function isIngestError(status: number): boolean {
  return status === 401 || status === 413 || status >= 500;
}

/**
 * One `ingest` span per request (docs/tracing.md), from its arrival to its answer, so 413s decided by
 * the body limit before the handler ran are traced too. A `traceparent` on the request (a proxy's;
 * providers send none) is its parent. Its traceparent is stored with the inbox row it committed.
 */
function traceRequests(
  scope: FastifyInstance,
  tracer: Tracer,
  resolved: WeakMap<FastifyRequest, { id: string; provider: string }>,
): WeakMap<FastifyRequest, Span> {
  const spans = new WeakMap<FastifyRequest, Span>();
  scope.addHook('onRequest', async (request) => {
    const sourceId = (request.params as { sourceId?: string } | undefined)?.sourceId ?? '';
    const start = () =>
      tracer.startSpan(
        'ingest',
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'http.route': '/ingest/:sourceId',
            'mailhook.source.id': sourceId,
          },
        },
        contextOfHeaders(request.headers),
      );
    const span = traceSafely('starting an ingest span', start, null);
    if (span) spans.set(request, span);
  });
  const end = (request: FastifyRequest, status: number | null) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    const source = resolved.get(request);
    traceSafely('ending an ingest span', () => endIngestSpan(span, source?.provider, status), undefined);
  };
  scope.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  scope.addHook('onRequestAbort', async (request) => end(request, null));
  return spans;
}

/** `status` null: the client went away before the answer. */
function endIngestSpan(span: Span, provider: string | undefined, status: number | null): void {
  if (provider) span.setAttribute('mailhook.provider', provider);
  if (status === null) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away before the answer' });
  } else {
    span.setAttribute('http.response.status_code', status);
    span.setAttribute('mailhook.ingest.outcome', OUTCOMES[status] ?? 'other');
    if (isIngestError(status))
      span.setStatus({ code: SpanStatusCode.ERROR, message: OUTCOMES[status] ?? `HTTP ${status}` });
  }
  span.end();
}
