import type { FastifyInstance } from 'fastify';
import { validateEventTypes, validateFilter } from '../delivery/filter.js';
import { summarizeHealth } from '../delivery/health.js';
import { generateSecret } from '../delivery/sign.js';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import type { EndpointRecord, EndpointSecret } from '../store/store.js';
import { type ApiContext, endpointOrNotFound } from './context.js';
import { validateHeaders, validateSecret, validateTargetUrl } from './endpoint-input.js';
import { endpointView, MASKED_HEADER_VALUE } from './endpoint-views.js';

export const DEFAULT_MAX_CONCURRENCY = 20;
const DAY_MS = 86_400_000;
const MASKED_NOTE = `custom header values are shown as "${MASKED_HEADER_VALUE}" (GET /v1/endpoints/{id}/headers reveals them)`;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const fields = {
  url: { type: 'string', minLength: 1, maxLength: 2000 },
  description: { type: 'string', maxLength: 1000 },
  event_types: { type: ['array', 'null'], items: { type: 'string' } },
  filter: { type: ['object', 'null'] },
  headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 50 },
  // At least one delivery per 100 s: a smaller positive rate (1e-300) would stop the endpoint for good.
  rate_limit: { type: ['number', 'null'], minimum: 0.01, maximum: 100_000 },
  max_concurrency: { type: 'integer', minimum: 1, maximum: 1000 },
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    ...fields,
    secret: { type: 'string', maxLength: 200 },
    status: { type: 'string', enum: ['active', 'paused'] },
  },
} as const;

const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: fields,
} as const;

const rotateBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    secret: { type: 'string', maxLength: 200 },
    grace_seconds: { type: 'integer', minimum: 0, maximum: 30 * 86_400 },
  },
} as const;

interface Fields {
  url?: string;
  description?: string;
  event_types?: string[] | null;
  filter?: Record<string, unknown> | null;
  headers?: Record<string, string>;
  rate_limit?: number | null;
  max_concurrency?: number;
}

/** An update finds nothing when the endpoint was deleted between the load and the write. */
function updatedOrNotFound(updated: EndpointRecord | null): EndpointRecord {
  if (!updated) throw new MailhookError('MH_ERR_ENDPOINT_NOT_FOUND');
  return updated;
}

export async function endpointRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, now } = ctx;

  scope.post<{ Body: Fields & { url: string; secret?: string; status?: 'active' | 'paused' } }>(
    '/endpoints',
    { schema: { body: createBody } },
    async (request, reply) => {
      const body = request.body;
      const time = now();
      const secret = body.secret === undefined ? generateSecret() : validateSecret(body.secret);
      const endpoint: EndpointRecord = {
        id: newId('endpoint'),
        url: await validateTargetUrl(body.url, ctx.config.allowPrivateTargets),
        description: body.description ?? '',
        eventTypes: validateEventTypes(body.event_types),
        filter: validateFilter(body.filter) as Record<string, unknown> | null,
        headers: validateHeaders(body.headers),
        secrets: [{ secret, expiresAt: null }],
        status: body.status ?? 'active',
        statusReason: body.status === 'paused' ? 'created paused' : null,
        rateLimit: body.rate_limit ?? null,
        maxConcurrency: body.max_concurrency ?? DEFAULT_MAX_CONCURRENCY,
        consecutiveFailures: 0,
        firstFailureAt: null,
        lastSuccessAt: null,
        lastFailureAt: null,
        createdAt: time,
        updatedAt: time,
      };
      await store.createEndpoint(endpoint);
      // The secret is shown here and on an explicit reveal only.
      return reply.code(201).send({ ...endpointView(endpoint), secret });
    },
  );

  scope.get('/endpoints', { schema: { summary: `Every endpoint; ${MASKED_NOTE}` } }, async () => ({
    data: (await store.listEndpoints()).map(endpointView),
  }));

  scope.get<{ Params: { id: string } }>(
    '/endpoints/:id',
    { schema: { params: idParams, summary: `One endpoint; ${MASKED_NOTE}` } },
    async (request) => endpointView(await endpointOrNotFound(store, request.params.id)),
  );

  scope.patch<{ Params: { id: string }; Body: Fields }>(
    '/endpoints/:id',
    { schema: { params: idParams, body: patchBody } },
    async (request) => {
      await endpointOrNotFound(store, request.params.id);
      const b = request.body;
      const updated = await store.updateEndpoint(
        request.params.id,
        {
          ...(b.url !== undefined && { url: await validateTargetUrl(b.url, ctx.config.allowPrivateTargets) }),
          ...(b.description !== undefined && { description: b.description }),
          ...(b.event_types !== undefined && { eventTypes: validateEventTypes(b.event_types) }),
          ...(b.filter !== undefined && {
            filter: validateFilter(b.filter) as Record<string, unknown> | null,
          }),
          ...(b.headers !== undefined && { headers: validateHeaders(b.headers) }),
          ...(b.rate_limit !== undefined && { rateLimit: b.rate_limit }),
          ...(b.max_concurrency !== undefined && { maxConcurrency: b.max_concurrency }),
        },
        now(),
      );
      ctx.wakeDelivery();
      return endpointView(updatedOrNotFound(updated));
    },
  );

  scope.delete<{ Params: { id: string } }>(
    '/endpoints/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      if (!(await store.deleteEndpoint(request.params.id, now())))
        throw new MailhookError('MH_ERR_ENDPOINT_NOT_FOUND');
      return reply.code(204).send();
    },
  );

  /** The explicit reveal call: the current secret and any rotated-out one still signing. */
  scope.get<{ Params: { id: string } }>(
    '/endpoints/:id/secret',
    { schema: { params: idParams } },
    async (request) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const time = now();
      const [current, ...previous] = endpoint.secrets;
      return {
        secret: current?.secret ?? null,
        previous: previous
          .filter((s) => s.expiresAt !== null && s.expiresAt > time)
          .map((s) => ({ secret: s.secret, expires_at: s.expiresAt?.toISOString() ?? null })),
      };
    },
  );

  /**
   * The explicit reveal of the custom header values, which every other answer masks: they often hold
   * the receiver's credentials. Names (lower-cased) as stored, values as sent with each delivery.
   */
  scope.get<{ Params: { id: string } }>(
    '/endpoints/:id/headers',
    {
      schema: {
        params: idParams,
        summary: `Reveals the custom header values, shown as "${MASKED_HEADER_VALUE}" everywhere else: {"headers": {"<name>": "<value>"}}`,
      },
    },
    async (request) => ({ headers: (await endpointOrNotFound(store, request.params.id)).headers }),
  );

  /** A new secret signs at once; the old one keeps signing alongside it for the grace period. */
  scope.post<{ Params: { id: string }; Body: { secret?: string; grace_seconds?: number } | null }>(
    '/endpoints/:id/rotate-secret',
    { schema: { params: idParams, body: rotateBody } },
    async (request) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const time = now();
      const secret =
        request.body?.secret === undefined ? generateSecret() : validateSecret(request.body.secret);
      const graceMs = (request.body?.grace_seconds ?? DAY_MS / 1000) * 1000;
      const expiresAt = new Date(time.getTime() + graceMs);
      const kept = endpoint.secrets.filter((s) => s.expiresAt === null || s.expiresAt > time);
      const secrets: EndpointSecret[] = [
        { secret, expiresAt: null },
        ...kept.map((s) => ({
          secret: s.secret,
          expiresAt: s.expiresAt === null || s.expiresAt > expiresAt ? expiresAt : s.expiresAt,
        })),
      ].filter((s) => s.expiresAt === null || s.expiresAt > time);
      // Deleted meanwhile (a concurrent DELETE): the new secret signs nothing.
      updatedOrNotFound(await store.updateEndpoint(endpoint.id, { secrets }, time));
      return { secret, previous_expires_at: graceMs > 0 ? expiresAt.toISOString() : null };
    },
  );

  scope.post<{ Params: { id: string } }>(
    '/endpoints/:id/pause',
    { schema: { params: idParams } },
    async (request) => {
      await endpointOrNotFound(store, request.params.id);
      const updated = await store.updateEndpoint(
        request.params.id,
        { status: 'paused', statusReason: 'paused through the API' },
        now(),
      );
      return endpointView(updatedOrNotFound(updated));
    },
  );

  /** Resumes a paused endpoint, or re-enables a disabled one; what accumulated is delivered. */
  scope.post<{ Params: { id: string } }>(
    '/endpoints/:id/resume',
    { schema: { params: idParams } },
    async (request) => {
      await endpointOrNotFound(store, request.params.id);
      const updated = await store.updateEndpoint(
        request.params.id,
        { status: 'active', statusReason: null, resetFailures: true },
        now(),
      );
      ctx.wakeDelivery();
      return endpointView(updatedOrNotFound(updated));
    },
  );

  scope.get<{ Params: { id: string } }>(
    '/endpoints/:id/health',
    { schema: { params: idParams } },
    async (request) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const time = now();
      const samples = await store.listAttemptSamples(endpoint.id, new Date(time.getTime() - DAY_MS));
      return {
        endpoint_id: endpoint.id,
        ...summarizeHealth({
          samples,
          now: time,
          consecutiveFailures: endpoint.consecutiveFailures,
          lastSuccessAt: endpoint.lastSuccessAt,
          status: endpoint.status,
        }),
      };
    },
  );
}
