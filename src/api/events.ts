import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { normalizeEmail } from '../pipeline/suppression-rules.js';
import type { EventCursor, EventQuery } from '../store/store.js';
import type { ApiContext } from './context.js';
import { decodeCursor, encodeCursor, formatPosition, parsePosition, parseTime } from './cursor.js';

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
    after: {
      type: 'string',
      maxLength: 40,
      description:
        'Stored order instead of newest first: the events stored after this position, oldest stored first, whatever their timestamps. `0` starts at the first stored event; pass `next_after` back to continue. Not with since, until or cursor.',
    },
  },
} as const;

/** For the OpenAPI document: the two shapes of a page. */
const pageResponse = {
  description: 'A page: newest first by timestamp, or in stored order with `after`',
  oneOf: [
    {
      type: 'object',
      required: ['data', 'next_cursor'],
      properties: {
        data: { type: 'array', items: { type: 'object' } },
        next_cursor: { type: ['string', 'null'], description: 'The next page, as `cursor`' },
      },
    },
    {
      type: 'object',
      required: ['data', 'next_after', 'has_more'],
      properties: {
        data: { type: 'array', items: { type: 'object' } },
        next_after: { type: 'string', description: 'Where to continue: pass it as `after` next time' },
        has_more: { type: 'boolean', description: 'False: caught up for now; ask again later' },
      },
    },
  ],
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
  after?: string;
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
    {
      schema: {
        querystring: listQuery,
        summary: 'Events newest first by timestamp, or with `after` in the order they were stored',
        description:
          'Without `after`: `{"data", "next_cursor"}`, newest first by the provider timestamp. With `after`: `{"data", "next_after", "has_more"}`, oldest stored first; a poller that passes `next_after` back sees every stored event once, including events reported late with an earlier timestamp. Filters: type, recipient, message_id, source_id.',
        documentedResponses: { 200: pageResponse },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.after !== undefined) return storedOrderPage(q);
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

  /** `GET /v1/events?after=`: stored order, for pollers that must not miss a late-reported event. */
  async function storedOrderPage(q: ListQuery) {
    const mixed = (['since', 'until', 'cursor'] as const).filter((name) => q[name] !== undefined);
    if (mixed.length > 0) {
      throw new MailhookError(
        'MH_ERR_VALIDATION',
        `after cannot be combined with ${mixed.join(', ')}: it follows stored order, they select by timestamp`,
      );
    }
    const after = parsePosition(q.after ?? '');
    if (!after)
      throw new MailhookError('MH_ERR_INVALID_CURSOR', 'after must be a position (`0` or a next_after)');
    const feed = await store.eventsAfter(after, q.limit, eventFilterOf(q));
    if (!feed) {
      throw new MailhookError('MH_ERR_INVALID_CURSOR', 'after is beyond every event this server has stored');
    }
    return {
      data: feed.items.map((item) => item.event),
      next_after: formatPosition(feed.next),
      has_more: feed.more,
    };
  }

  scope.get<{ Params: { id: string } }>('/events/:id', { schema: { params: idParams } }, async (request) => {
    const event = await store.getEvent(request.params.id);
    if (!event) throw new MailhookError('MH_ERR_EVENT_NOT_FOUND');
    return event;
  });
}
