import type { FastifyInstance } from 'fastify';
import { typeMatches } from '../delivery/filter.js';
import { MailhookError } from '../errors.js';
import type { CanonicalEvent } from '../events.js';
import { isEmailEventType } from '../events.js';
import { newId } from '../ids.js';
import { routeEvent } from '../pipeline/fan-out.js';
import type { DeliveryStatus, Store } from '../store/store.js';
import { type ApiContext, endpointOrNotFound } from './context.js';
import { idCursor, parseTime } from './cursor.js';
import { attemptView, deliveryView, replayView } from './endpoint-views.js';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const replayParams = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 100 },
    replayId: { type: 'string', minLength: 1, maxLength: 100 },
  },
  required: ['id', 'replayId'],
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 100 },
  },
} as const;

const replayBody = {
  type: 'object',
  additionalProperties: false,
  required: ['since'],
  properties: {
    since: { type: 'string' },
    until: { type: 'string' },
    types: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 100 }, maxItems: 100 },
  },
} as const;

const testBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { type: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/** A realistic sample event for test sends; not stored, marked as a test in its metadata. */
function sampleEvent(type: string, now: Date): CanonicalEvent {
  return {
    id: newId('event'),
    type,
    timestamp: now.toISOString(),
    data: {
      provider: 'mailhook',
      source_id: 'src_test',
      provider_event_id: null,
      message_id: 'test-message-id',
      recipient: 'test.recipient@example.com',
      ...(type === 'email.bounced' && {
        bounce: { type: 'hard' as const, code: '5.1.1', reason: 'test bounce' },
      }),
      ...(type === 'email.clicked' && { click: { url: 'https://example.com/' } }),
      ...(type === 'email.opened' && { open: { machine: false } }),
      user_agent: null,
      ip: null,
      tags: ['mailhook-test'],
      metadata: { test: true },
      received_at: now.toISOString(),
      raw: null,
    },
  };
}

export async function deliveryRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, now } = ctx;

  scope.get<{
    Params: { id: string };
    Querystring: { status?: DeliveryStatus; limit: number; cursor?: string };
  }>(
    '/endpoints/:id/deliveries',
    { schema: { params: idParams, querystring: listQuery } },
    async (request) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const { status, limit, cursor } = request.query;
      const page = await store.listDeliveries({
        endpointId: endpoint.id,
        limit,
        ...(status && { status }),
        ...(cursor && { cursor: idCursor(cursor, 'delivery') }),
      });
      return { data: page.items.map(deliveryView), next_cursor: page.next };
    },
  );

  scope.get<{ Params: { id: string } }>(
    '/deliveries/:id',
    { schema: { params: idParams } },
    async (request) => {
      const delivery = await store.getDelivery(request.params.id);
      if (!delivery) throw new MailhookError('MH_ERR_DELIVERY_NOT_FOUND');
      return {
        ...deliveryView(delivery),
        attempts: (await store.listAttempts(delivery.id)).map(attemptView),
      };
    },
  );

  /** One more attempt now, whatever the delivery's state; attempts keep counting. */
  scope.post<{ Params: { id: string } }>(
    '/deliveries/:id/retry',
    { schema: { params: idParams } },
    async (request, reply) => {
      const delivery = await store.retryDelivery(request.params.id, now());
      if (delivery === 'not_found') throw new MailhookError('MH_ERR_DELIVERY_NOT_FOUND');
      if (delivery === 'in_flight') throw new MailhookError('MH_ERR_DELIVERY_IN_FLIGHT');
      if (delivery === 'endpoint_deleted') {
        throw new MailhookError('MH_ERR_ENDPOINT_NOT_FOUND', 'The endpoint of this delivery was deleted');
      }
      ctx.wakeDelivery();
      return reply.code(202).send(deliveryView(delivery));
    },
  );

  /** Sends one stored event again, to one endpoint or to every endpoint it matches now. */
  scope.post<{ Params: { id: string }; Body: { endpoint_id?: string } | null }>(
    '/events/:id/redeliver',
    {
      schema: {
        params: idParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { endpoint_id: { type: 'string', maxLength: 100 } },
        },
      },
    },
    async (request, reply) => {
      const event = await store.getEvent(request.params.id);
      if (!event) throw new MailhookError('MH_ERR_EVENT_NOT_FOUND');
      const endpointId = request.body?.endpoint_id;
      const targets = endpointId
        ? [await endpointOrNotFound(store, endpointId)]
        : routeEvent(
            event,
            (await store.listEndpoints()).filter((e) => e.status !== 'disabled'),
          );
      const time = now();
      const redelivery = newId('delivery');
      const deliveries = targets.map((endpoint) => ({
        id: newId('delivery'),
        eventId: event.id,
        endpointId: endpoint.id,
        origin: 'redeliver' as const,
        dedupe: `redeliver:${redelivery}`,
        nextAttemptAt: time,
      }));
      await store.createDeliveries(deliveries, time);
      ctx.wakeDelivery();
      return reply
        .code(202)
        .send({ deliveries: deliveries.map((d) => ({ id: d.id, endpoint_id: d.endpointId })) });
    },
  );

  /** Test send: a sample event (not stored) to this endpoint, through the normal delivery path. */
  scope.post<{ Params: { id: string }; Body: { type?: string } | null }>(
    '/endpoints/:id/test',
    { schema: { params: idParams, body: testBody } },
    async (request, reply) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const type = request.body?.type ?? 'email.delivered';
      if (type.startsWith('email.') && !isEmailEventType(type)) {
        throw new MailhookError('MH_ERR_VALIDATION', `"${type}" is not a canonical email event type`);
      }
      const time = now();
      const event = sampleEvent(type, time);
      const id = newId('delivery');
      await store.createDeliveries(
        [
          {
            id,
            eventId: event.id,
            endpointId: endpoint.id,
            origin: 'test',
            dedupe: `test:${id}`,
            payload: JSON.stringify(event),
            nextAttemptAt: time,
          },
        ],
        time,
      );
      ctx.wakeDelivery();
      return reply.code(202).send({ delivery_id: id, event });
    },
  );

  scope.post<{ Params: { id: string }; Body: { since: string; until?: string; types?: string[] } }>(
    '/endpoints/:id/replay',
    { schema: { params: idParams, body: replayBody } },
    async (request, reply) => {
      const endpoint = await endpointOrNotFound(store, request.params.id);
      const time = now();
      const since = parseTime('since', request.body.since) as Date;
      const until = parseTime('until', request.body.until) ?? time;
      if (until <= since) throw new MailhookError('MH_ERR_VALIDATION', 'until must be after since');
      const replay = {
        id: newId('replay'),
        endpointId: endpoint.id,
        since,
        until,
        types: request.body.types ?? [],
        status: 'running' as const,
        scanned: 0,
        enqueued: 0,
        skipped: 0,
        createdAt: time,
        updatedAt: time,
        finishedAt: null,
      };
      await store.createReplay(replay);
      ctx.wakeDelivery();
      const notKept = await notKeptForReplay(
        store,
        ctx.config.retention.eventsMs,
        replay,
        endpoint.eventTypes,
        time,
      );
      return reply.code(202).send({ ...replayView(replay), ...(notKept && { not_kept: notKept }) });
    },
  );

  scope.get<{ Params: { id: string; replayId: string } }>(
    '/endpoints/:id/replays/:replayId',
    { schema: { params: replayParams } },
    async (request) => {
      const replay = await store.getReplay(request.params.replayId);
      if (!replay || replay.endpointId !== request.params.id)
        throw new MailhookError('MH_ERR_REPLAY_NOT_FOUND');
      return replayView(replay);
    },
  );
}

/**
 * Where a replay reaches back past MAILHOOK_RETENTION_EVENTS, how many of its events are no longer
 * kept: counted from the stats rollups, which outlive the events (hourly, so the figure is close to,
 * not exactly, the events pruned from that part of the range).
 */
async function notKeptForReplay(
  store: Store,
  retentionMs: number,
  replay: { since: Date; until: Date; types: string[] },
  subscribed: string[],
  now: Date,
): Promise<{ before: string; events: number } | null> {
  if (retentionMs <= 0) return null;
  const cutoff = new Date(now.getTime() - retentionMs);
  if (replay.since >= cutoff) return null;
  const until = replay.until < cutoff ? replay.until : cutoff;
  const rows = await store.eventStats({ since: replay.since, until, groupBy: 'type' });
  const wanted = (type: string) =>
    typeMatches(subscribed, type) && (replay.types.length === 0 || typeMatches(replay.types, type));
  const events = rows.reduce((n, row) => n + (wanted(row.type) ? row.count : 0), 0);
  return { before: cutoff.toISOString(), events };
}
