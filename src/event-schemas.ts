import {
  EMAIL_EVENT_TYPES,
  type EmailEventType,
  SYSTEM_EVENT_TYPES,
  type SystemEventType,
} from './events.js';

/**
 * JSON Schemas of the canonical email events, of mailhook's own system events and of events of a
 * publisher's own type, served by `GET /v1/event-types` so that endpoint developers (and publishers)
 * can validate what they send and receive.
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

/** The Standard Webhooks payload around an event's data: id, type, timestamp. */
function envelope(type: string, description: string, data: Record<string, unknown>): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: type,
    description,
    type: 'object',
    required: ['id', 'type', 'timestamp', 'data'],
    properties: {
      id: { type: 'string', pattern: '^evt_' },
      type: { const: type },
      timestamp: { type: 'string', format: 'date-time' },
      data,
    },
  };
}

export function eventSchema(type: EmailEventType): Record<string, unknown> {
  return envelope(type, DESCRIPTIONS[type], {
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
      received_via: {
        enum: ['webhook', 'api'],
        description: "posted to the provider's webhook, or read back from its event API (reconciliation)",
      },
      raw: {},
      ...EXTRA[type],
    },
  });
}

/** An object schema in which every listed property is required. */
function allRequired(properties: Record<string, unknown>) {
  return { type: 'object', required: Object.keys(properties), properties };
}

const ENDPOINT_METADATA = allRequired({
  endpoint_id: { type: 'string' },
  delivery_id: { type: 'string' },
  event_id: { type: 'string' },
  consecutive_failures: { type: 'integer' },
  reason: nullableString,
});

const SOURCE_METADATA = allRequired({
  source_id: { type: 'string' },
  provider: { type: 'string' },
  name: { type: 'string' },
  last_request_at: { type: 'string', format: 'date-time' },
  expected_gap_seconds: { type: 'integer' },
});

const RECONCILE_METADATA = allRequired({
  source_id: { type: 'string' },
  provider: { type: 'string' },
  name: { type: 'string' },
  reconciliation_id: { type: 'string' },
  error: { type: 'string' },
  http_status: { type: ['integer', 'null'] },
});

const SYSTEM_DESCRIPTIONS: Record<SystemEventType, string> = {
  'system.endpoint.failing': 'An endpoint has failed MAILHOOK_FAILING_AFTER deliveries in a row.',
  'system.endpoint.disabled': 'An endpoint was disabled (it answered 410 Gone, or kept failing).',
  'system.endpoint.recovered':
    'An endpoint that was failing has had only successes for at least a minute (as many in a row as it took to fail).',
  'system.delivery.exhausted': 'A delivery failed its last scheduled attempt; it will not be retried.',
  'system.source.silent': 'A source has received nothing for much longer than its usual gap.',
  'system.source.recovered': 'A silent source received a request again.',
  'system.source.reconcile_failed':
    "Reading a source's events back from the provider's API failed (refused API key, the API kept failing).",
};

/** The schema of a system event: provider "mailhook", no recipient, the facts in data.metadata. */
function systemEventSchema(type: SystemEventType): Record<string, unknown> {
  return envelope(type, SYSTEM_DESCRIPTIONS[type], {
    type: 'object',
    required: ['provider', 'source_id', 'metadata', 'received_at'],
    properties: {
      provider: { const: 'mailhook' },
      source_id: { const: 'src_system' },
      provider_event_id: { type: 'null' },
      message_id: { type: 'null' },
      recipient: { type: 'null' },
      tags: { type: 'array', maxItems: 0 },
      metadata:
        type === 'system.source.reconcile_failed'
          ? RECONCILE_METADATA
          : type.startsWith('system.source.')
            ? SOURCE_METADATA
            : ENDPOINT_METADATA,
      received_at: { type: 'string', format: 'date-time' },
      raw: { type: 'null' },
    },
  });
}

export const OWN_TYPE_DESCRIPTION =
  'Any type outside email.* and system.* (invoice.paid), published with POST /v1/events or posted by ' +
  'a Standard Webhooks sender: data is exactly the data that was published, not canonical email ' +
  'data. Endpoint filters read its top-level tags (array of strings) and metadata (object); a ' +
  'top-level recipient or message_id string makes it searchable by ?recipient= and ?message_id=.';

/** The schema of an event of a publisher's own type: the envelope around the publisher's data. */
export function ownTypeEventSchema(): Record<string, unknown> {
  const schema = envelope('Own event type', OWN_TYPE_DESCRIPTION, {
    type: 'object',
    description: 'Exactly the published data',
  });
  const properties = schema.properties as Record<string, unknown>;
  properties.type = {
    type: 'string',
    pattern: '^(?!email\\.|system\\.)[A-Za-z0-9_.-]{1,100}$',
    description: 'The published type',
  };
  return schema;
}

/** Every type an endpoint can subscribe to by name: the canonical email events, then the system ones. */
export function eventCatalog() {
  return [
    ...EMAIL_EVENT_TYPES.map((type) => ({
      type,
      description: DESCRIPTIONS[type],
      schema: eventSchema(type),
    })),
    ...SYSTEM_EVENT_TYPES.map((type) => ({
      type,
      description: SYSTEM_DESCRIPTIONS[type],
      schema: systemEventSchema(type),
    })),
  ];
}
