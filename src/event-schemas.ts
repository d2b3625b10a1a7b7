import { EMAIL_EVENT_TYPES, type EmailEventType } from './events.js';

/**
 * JSON Schemas of the canonical email events, served by `GET /v1/event-types` so that endpoint
 * developers (and publishers) can validate what they send and receive.
 */
const nullableString = { type: ['string', 'null'] } as const;

const bounce = {
  type: 'object',
  required: ['type', 'code', 'reason'],
  properties: {
    type: { enum: ['hard', 'soft', 'undetermined'] },
    code: nullableString,
    reason: nullableString,
  },
} as const;

const EXTRA: Partial<Record<EmailEventType, Record<string, unknown>>> = {
  'email.bounced': { bounce },
  'email.dropped': { bounce },
  'email.clicked': { click: { type: 'object', required: ['url'], properties: { url: nullableString } } },
  'email.opened': {
    open: { type: 'object', required: ['machine'], properties: { machine: { type: 'boolean' } } },
  },
  'email.unsubscribed': { unsubscribe: { type: 'object', properties: { group: nullableString } } },
  'email.resubscribed': { unsubscribe: { type: 'object', properties: { group: nullableString } } },
};

const DESCRIPTIONS: Record<EmailEventType, string> = {
  'email.sent': 'The provider accepted the message for sending.',
  'email.delivered': "The recipient's server accepted the message.",
  'email.deferred': 'Delivery was delayed; the provider will try again.',
  'email.bounced': 'The recipient server refused the message (hard: permanently; soft: temporarily).',
  'email.dropped': 'The provider refused to send (suppressed, invalid, policy).',
  'email.failed': 'The message could not be generated (rendering failure).',
  'email.opened': 'The message was opened (open.machine: by a privacy proxy such as Apple MPP).',
  'email.clicked': 'A tracked link was clicked.',
  'email.complained': 'The recipient marked the message as spam.',
  'email.unsubscribed': 'The recipient unsubscribed (globally, or from unsubscribe.group).',
  'email.resubscribed': 'The recipient subscribed again.',
};

export function eventSchema(type: EmailEventType): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: type,
    description: DESCRIPTIONS[type],
    type: 'object',
    required: ['id', 'type', 'timestamp', 'data'],
    properties: {
      id: { type: 'string', pattern: '^evt_' },
      type: { const: type },
      timestamp: { type: 'string', format: 'date-time' },
      data: {
        type: 'object',
        required: ['provider', 'source_id', 'message_id', 'recipient', 'tags', 'metadata', 'received_at'],
        properties: {
          provider: { type: 'string' },
          source_id: { type: 'string' },
          provider_event_id: nullableString,
          message_id: nullableString,
          recipient: nullableString,
          user_agent: nullableString,
          ip: nullableString,
          tags: { type: 'array', items: { type: 'string' } },
          metadata: { type: 'object' },
          received_at: { type: 'string', format: 'date-time' },
          raw: {},
          ...EXTRA[type],
        },
      },
    },
  };
}

export function eventCatalog() {
  return EMAIL_EVENT_TYPES.map((type) => ({
    type,
    description: DESCRIPTIONS[type],
    schema: eventSchema(type),
  }));
}
