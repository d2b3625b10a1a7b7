import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import { findAdapter } from '../providers/registry.js';
import type { RawRequest } from '../providers/types.js';
import type { InboxWriter } from './inbox-writer.js';
import type { SourceCache } from './source-cache.js';

export interface IngestOptions {
  config: Pick<Config, 'maxBodyBytes' | 'signatureToleranceSec'>;
  sources: SourceCache;
  writer: InboxWriter;
  now: () => Date;
}

/** Credentials that verified the request have done their job; they are never written to disk. */
const REDACTED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function headersOf(request: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  if (!Object.keys(headers).some((name) => REDACTED_HEADERS.has(name))) return headers;
  const copy = { ...headers };
  for (const name of REDACTED_HEADERS) if (name in copy) copy[name] = '[redacted]';
  return copy;
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
 * `POST /ingest/:sourceId`: verify, append to the inbox (group commit), answer. The body stays raw
 * bytes because signatures cover them exactly; nothing is parsed here — the pipeline does that.
 */
export async function ingestRoutes(scope: FastifyInstance, options: IngestOptions): Promise<void> {
  const { config, sources, writer, now } = options;
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );

  scope.post<{ Params: { sourceId: string } }>(
    '/ingest/:sourceId',
    { bodyLimit: config.maxBodyBytes },
    async (request, reply) => {
      const receivedAt = now();
      const source = await sources.get(request.params.sourceId);
      const adapter = source?.enabled ? findAdapter(source.provider) : undefined;
      // Unknown, disabled and deleted sources get the same answer, so ids cannot be probed.
      if (!source || !adapter) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');

      const raw = rawRequestOf(request, receivedAt);
      const verification = adapter.verify(raw, source, {
        now: receivedAt,
        toleranceSec: config.signatureToleranceSec,
      });
      if (!verification.ok) {
        request.log.info({ sourceId: source.id, reason: verification.reason }, 'ingest request refused');
        throw new MailhookError('MH_ERR_SIGNATURE_INVALID', verification.reason);
      }

      const id = newId('inbox');
      try {
        const headers = withoutCredentials(raw.headers);
        await writer.add({ id, sourceId: source.id, provider: source.provider, ...raw, headers });
      } catch (err) {
        request.log.error({ err, sourceId: source.id }, 'could not store ingest request');
        throw new MailhookError('MH_ERR_STORE_UNAVAILABLE', undefined, { cause: err });
      }
      return reply.code(200).send({ status: 'stored', id });
    },
  );
}
