import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { type ApiContext, endpointOrNotFound } from './context.js';

const HOUR = 3_600_000;
const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;
const query = {
  type: 'object',
  additionalProperties: false,
  properties: { hours: { type: 'integer', minimum: 1, maximum: 720, default: 24 } },
} as const;

/** Hourly health history (up to 30 days): an endpoint's attempts, a source's requests. */
export async function historyRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const since = (hours: number) => new Date(Math.floor((ctx.now().getTime() - hours * HOUR) / HOUR) * HOUR);

  scope.get<{ Params: { id: string }; Querystring: { hours: number } }>(
    '/endpoints/:id/history',
    { schema: { params: idParams, querystring: query } },
    async (request) => {
      await endpointOrNotFound(ctx.store, request.params.id);
      const buckets = await ctx.store.endpointHistory(request.params.id, since(request.query.hours));
      return {
        endpoint_id: request.params.id,
        data: buckets.map((b) => ({ hour: b.hour, attempts: b.total, succeeded: b.ok, avg_ms: b.avgMs })),
      };
    },
  );

  scope.get<{ Params: { id: string }; Querystring: { hours: number } }>(
    '/sources/:id/history',
    { schema: { params: idParams, querystring: query } },
    async (request) => {
      if (!(await ctx.store.getSource(request.params.id))) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      const buckets = await ctx.store.sourceHistory(request.params.id, since(request.query.hours));
      return {
        source_id: request.params.id,
        data: buckets.map((b) => ({
          hour: b.hour,
          requests: b.total,
          parsed: b.ok,
          quarantined: b.total - b.ok,
        })),
      };
    },
  );
}
