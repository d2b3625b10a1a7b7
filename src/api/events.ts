import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { normalizeEmail } from '../pipeline/suppression-rules.js';
import type { EventCursor, EventQuery } from '../store/store.js';
import type { ApiContext } from './context.js';
import { decodeCursor, encodeCursor, parseTime } from './cursor.js';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 100 },
    recipient: { type: 'string', minLength: 1, maxLength: 320 },
    message_id: { type: 'string', minLength: 1, maxLength: 1000 },
    source_id: { type: 'string', minLength: 1, maxLength: 100 },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 500 },
  },
} as const;

interface ListQuery {
  type?: string;
  recipient?: string;
  message_id?: string;
  source_id?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

/** The filters `GET /v1/events` and its stream share, as a store query (recipients compare normalised). */
export function eventFilterOf(q: {
  type?: string;
  recipient?: string;
  message_id?: string;
  source_id?: string;
}): Omit<EventQuery, 'limit' | 'cursor'> {
  return {
    ...(q.type && { type: q.type }),
    ...(q.recipient && { recipient: normalizeEmail(q.recipient) }),
    ...(q.message_id && { messageId: q.message_id }),
    ...(q.source_id && { sourceId: q.source_id }),
  };
}

function isEventCursor(value: unknown): value is [number, string] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string'
  );
}

export async function eventRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store } = ctx;

  scope.get<{ Querystring: ListQuery }>(
    '/events',
    { schema: { querystring: listQuery } },
    async (request) => {
      const q = request.query;
      let cursor: EventCursor | undefined;
      if (q.cursor) {
        const [occurredAt, id] = decodeCursor(q.cursor, isEventCursor);
        cursor = { occurredAt, id };
      }
      const since = parseTime('since', q.since);
      const until = parseTime('until', q.until);
      const page = await store.listEvents({
        limit: q.limit,
        ...eventFilterOf(q),
        ...(since && { since }),
        ...(until && { until }),
        ...(cursor && { cursor }),
      });
      return {
        data: page.items,
        next_cursor: page.next ? encodeCursor([page.next.occurredAt, page.next.id]) : null,
      };
    },
  );

  scope.get<{ Params: { id: string } }>('/events/:id', { schema: { params: idParams } }, async (request) => {
    const event = await store.getEvent(request.params.id);
    if (!event) throw new MailhookError('MH_ERR_EVENT_NOT_FOUND');
    return event;
  });
}
