import type { FastifyInstance } from 'fastify';
import { readCanonicalEvent } from '../canonical-input.js';
import { MailhookError, MalformedPayloadError } from '../errors.js';
import { eventCatalog, OWN_TYPE_DESCRIPTION, ownTypeEventSchema } from '../event-schemas.js';
import { type CanonicalEvent, isOwnEventType } from '../events.js';
import { FIELD_LIMITS, longerThan } from '../field-limits.js';
import { newId } from '../ids.js';
import type { PublishedEvent } from '../store/store.js';
import type { ApiContext } from './context.js';

/** Published events belong to this pseudo-source: dedup keys (idempotency keys) are unique within it. */
export const PUBLISHED_SOURCE_ID = 'src_published';
const MAX_BATCH = 1000;
const KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Deliberately permissive: it documents both shapes, but the fields carry no types, so Ajv neither
 * coerces nor refuses anything; readCanonicalEvent validates each event and names the batch index.
 */
const publishBody = {
  type: 'object',
  description:
    'One event {"type", "timestamp"?, "data", "idempotency_key"?} or a batch {"events": [...]} of 1 to ' +
    `${MAX_BATCH} such events. email.* types are validated against GET /v1/event-types.`,
  properties: {
    type: { description: 'The event type: email.bounced, or your own such as invoice.paid' },
    timestamp: { description: 'When it happened (ISO 8601); default: when it is received' },
    data: {
      description:
        'email.* types: read into the canonical email data (recipient required). Your own types: ' +
        'stored and delivered exactly as given (an object); endpoint filters read its top-level ' +
        'tags and metadata, and a top-level recipient or message_id string is searchable',
    },
    idempotency_key: { description: 'Per event, instead of the Idempotency-Key header' },
    events: { description: `A batch: an array of 1 to ${MAX_BATCH} events of the shape above` },
  },
} as const;

/** `$schema` belongs at the root of a schema document, not inside another one. */
function embedded(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, ...rest } = schema;
  return rest;
}

const emailEvent = {
  type: 'object',
  description: 'An email.* event: data is the canonical email data (per type: GET /v1/event-types)',
  required: ['id', 'type', 'timestamp', 'data'],
  properties: {
    id: { type: 'string', pattern: '^evt_' },
    type: { type: 'string', pattern: '^email\\.' },
    timestamp: { type: 'string', format: 'date-time' },
    data: { type: 'object', required: ['provider', 'source_id', 'recipient', 'received_at'] },
  },
};

/** What the route answers, for the OpenAPI document (see documentedResponses). */
function publishResponse(description: string) {
  const event = { oneOf: [emailEvent, embedded(ownTypeEventSchema())] };
  return {
    description,
    oneOf: [
      event,
      {
        type: 'object',
        description: 'A batch: each event with whether this call created it',
        required: ['data'],
        properties: {
          data: {
            type: 'array',
            items: {
              type: 'object',
              required: ['event', 'created'],
              properties: { event, created: { type: 'boolean' } },
            },
          },
        },
      },
    ],
  };
}

interface PublishBody {
  events?: unknown[];
  [key: string]: unknown;
}

function toPublished(
  input: unknown,
  index: number | null,
  key: string | null,
  receivedAt: Date,
): PublishedEvent {
  const where = index === null ? '' : `events[${index}]: `;
  let read: ReturnType<typeof readCanonicalEvent>;
  try {
    read = readCanonicalEvent(input, { fallbackTimestamp: receivedAt, requireRecipient: true });
  } catch (err) {
    if (err instanceof MalformedPayloadError)
      throw new MailhookError('MH_ERR_VALIDATION', `${where}${err.message}`);
    throw err;
  }
  for (const [field, limit] of [
    ['recipient', FIELD_LIMITS.recipient],
    ['message_id', FIELD_LIMITS.messageId],
  ] as const) {
    if (longerThan(read.data[field], limit)) {
      throw new MailhookError('MH_ERR_VALIDATION', `${where}data.${field} must be at most ${limit} bytes`);
    }
  }
  const own = (input as { idempotency_key?: unknown }).idempotency_key;
  if (own !== undefined && (typeof own !== 'string' || !KEY.test(own))) {
    throw new MailhookError(
      'MH_ERR_VALIDATION',
      `${where}idempotency_key must be 1–200 visible ASCII characters`,
    );
  }
  const id = newId('event');
  const itemKey =
    typeof own === 'string' ? own : key === null ? null : index === null ? key : `${key}:${index}`;
  const { raw: _raw, ...fields } = read.data;
  // For an own type, `fields` carries toJSON: the data sent stays the published data, and these
  // fields only tell the store where the event comes from.
  const event: CanonicalEvent = {
    id,
    type: read.type,
    timestamp: read.timestamp.toISOString(),
    data: {
      provider: 'api',
      source_id: PUBLISHED_SOURCE_ID,
      ...fields,
      provider_event_id: fields.provider_event_id ?? itemKey,
      received_at: receivedAt.toISOString(),
      raw: isOwnEventType(read.type) ? null : input,
    },
  };
  return { event, dedupKey: itemKey === null ? `id:${id}` : `idem:${itemKey}` };
}

export async function publishRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  /**
   * Publishes one event (`{"type", "timestamp"?, "data"}`) or a batch (`{"events": [...]}`, up to
   * 1000). They are stored, counted for suppressions and fanned out exactly like provider events.
   * `Idempotency-Key`: the same key returns the same event and creates nothing new.
   */
  scope.post<{ Body: PublishBody }>(
    '/events',
    {
      bodyLimit: 10 * 1024 * 1024,
      schema: {
        summary:
          'Publishes events: email.* ones carry canonical email data, your own types your data as sent',
        description: OWN_TYPE_DESCRIPTION,
        body: publishBody,
        documentedResponses: {
          201: publishResponse('Stored (a batch: at least one event is new)'),
          200: publishResponse('Already stored under this idempotency key: the stored event(s), unchanged'),
        },
      },
    },
    async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const key = typeof header === 'string' ? header.trim() : null;
      if (key !== null && !KEY.test(key)) {
        throw new MailhookError(
          'MH_ERR_VALIDATION',
          'Idempotency-Key must be 1–200 visible ASCII characters',
        );
      }
      const body = request.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new MailhookError('MH_ERR_VALIDATION', 'the body must be an event object or {"events": [...]}');
      }
      const receivedAt = ctx.now();
      const batch = Array.isArray(body.events);
      const items = batch ? (body.events as unknown[]) : [body];
      if (items.length === 0 || items.length > MAX_BATCH) {
        throw new MailhookError('MH_ERR_VALIDATION', `a batch holds 1 to ${MAX_BATCH} events`);
      }
      const published = items.map((item, i) => toPublished(item, batch ? i : null, key, receivedAt));
      const results = await ctx.store.publishEvents(published, ctx.effects, receivedAt);
      if (results.some((r) => r.created)) ctx.wakeDelivery();
      const created = results.some((r) => r.created);
      if (!batch) return reply.code(created ? 201 : 200).send(results[0]?.event);
      return reply.code(created ? 201 : 200).send({
        data: results.map((r) => ({ event: r.event, created: r.created })),
      });
    },
  );

  scope.get(
    '/event-types',
    {
      schema: {
        summary:
          'The email.* and system.* event types with JSON schemas; own_types: what an event of your own type looks like',
      },
    },
    async () => ({
      data: eventCatalog(),
      own_types: { description: OWN_TYPE_DESCRIPTION, schema: ownTypeEventSchema() },
    }),
  );
}
