import { MalformedPayloadError } from '../errors.js';
import type { EmailEventType, ParsedEvent } from '../events.js';
import { parseBodyJson } from './json.js';
import { signatureHeaders, validateSecretConfig, verifySignedRequest } from './resend-signature.js';
import { credentialStep, nextStep } from './setup-credential.js';
import type {
  ParseResult,
  ProviderAdapter,
  RawRequest,
  Source,
  Verification,
  VerifyContext,
} from './types.js';

/**
 * Loops webhooks: one event per POST, `{"eventName", "eventTime", "webhookSchemaVersion": "1.0.0",
 * "contactIdentity", …}`, signed with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`). The `webhook-id` is "the unique ID of the event" and the dedup key.
 */
const PREFIXES = ['webhook'] as const;

const EVENT_TYPES: Record<string, EmailEventType> = {
  'email.delivered': 'email.delivered',
  'email.softBounced': 'email.bounced',
  'email.hardBounced': 'email.bounced',
  'email.opened': 'email.opened',
  'email.clicked': 'email.clicked',
  'email.spamReported': 'email.complained',
  'email.resubscribed': 'email.resubscribed',
  // Contact-level subscription changes are what say whether the whole audience or one mailing list
  // is concerned, and they also cover unsubscribes made in the dashboard, by API or by a hard bounce.
  'contact.unsubscribed': 'email.unsubscribed',
  'contact.mailingList.unsubscribed': 'email.unsubscribed',
  'contact.mailingList.subscribed': 'email.resubscribed',
};

const SKIP_REASONS: Record<string, string> = {
  'email.unsubscribed':
    'its scope arrives in the contact.unsubscribed or contact.mailingList.unsubscribed event sent with it, which is mapped instead',
  'contact.created': 'a contact change, not an email event',
  'contact.deleted': 'a contact change; the contact.unsubscribed sent with it is mapped',
  'testing.testEvent': 'the test event from the Loops webhook settings',
};

/** `campaign.email.sent`, `loop.email.sent`, `transactional.email.sent` (and any future source). */
const SENT_EVENT = /^([A-Za-z]+)\.email\.sent$/;

/** Ids and names of what sent the email, as Loops names them. */
const CONTEXT_KEYS = [
  'sourceType',
  'campaignId',
  'campaignName',
  'loopId',
  'loopName',
  'transactionalId',
  'transactionalName',
] as const;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function mapType(name: string): EmailEventType | null {
  return EVENT_TYPES[name] ?? (SENT_EVENT.test(name) ? 'email.sent' : null);
}

/** `eventTime` is documented as Unix seconds; a value only milliseconds can be is read as such. */
function timestampOf(body: JsonObject): Date {
  const raw = body.eventTime;
  const value = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new MalformedPayloadError('eventTime is not a Unix time in seconds');
  }
  return new Date(Math.round(value > 1e12 ? value : value * 1000));
}

function metadataOf(name: string, body: JsonObject, email: JsonObject, contact: JsonObject): JsonObject {
  const metadata: JsonObject = {};
  for (const key of CONTEXT_KEYS) {
    const value = stringOrNull(body[key]);
    if (value !== null) metadata[key] = value;
  }
  // Sent events name their source only in the event name.
  const source = SENT_EVENT.exec(name)?.[1];
  if (source && metadata.sourceType === undefined) metadata.sourceType = source;
  const emailMessageId = stringOrNull(email.emailMessageId);
  if (emailMessageId) metadata.emailMessageId = emailMessageId;
  const contactId = stringOrNull(contact.id);
  if (contactId) metadata.contactId = contactId;
  // Your own user id for the contact, when you gave Loops one.
  const userId = stringOrNull(contact.userId);
  if (userId) metadata.userId = userId;
  if (Array.isArray(body.mailingLists)) {
    metadata.mailingListIds = body.mailingLists.flatMap((list) =>
      isObject(list) && typeof list.id === 'string' ? [list.id] : [],
    );
  }
  const list = isObject(body.mailingList) ? body.mailingList : null;
  if (list && stringOrNull(list.name)) metadata.mailingListName = list.name;
  return metadata;
}

function buildEvent(name: string, type: EmailEventType, body: JsonObject, webhookId: string): ParsedEvent {
  const contact = isObject(body.contactIdentity) ? body.contactIdentity : {};
  const email = isObject(body.email) ? body.email : {};
  const recipient = stringOrNull(contact.email);
  const event: ParsedEvent = {
    type,
    timestamp: timestampOf(body),
    dedupKey: webhookId,
    data: {
      provider_event_id: webhookId,
      // The send APIs return no id; `email.id` is Loops' id of this one email to this one contact,
      // shared by its sent, delivered, opened… events.
      message_id: stringOrNull(email.id),
      recipient: recipient === null ? null : recipient.trim().toLowerCase(),
      user_agent: null,
      ip: null,
      tags: [],
      metadata: metadataOf(name, body, email, contact),
      raw: body,
    },
  };
  if (type === 'email.bounced') {
    // Loops says only which kind; soft bounces are retried and may still be delivered.
    event.data.bounce = { type: name === 'email.hardBounced' ? 'hard' : 'soft', code: null, reason: null };
  }
  if (type === 'email.clicked') event.data.click = { url: null };
  if (type === 'email.opened') event.data.open = { machine: false };
  if (type === 'email.unsubscribed' || type === 'email.resubscribed') {
    const list = isObject(body.mailingList) ? body.mailingList : {};
    event.data.unsubscribe = { group: stringOrNull(list.id) };
  }
  return event;
}

function parse(req: RawRequest): ParseResult {
  const headers = signatureHeaders(req, PREFIXES);
  if (!headers) throw new MalformedPayloadError('webhook-id header is missing');
  const body = parseBodyJson(req.body);
  if (!isObject(body)) throw new MalformedPayloadError('body must be a JSON object');
  const name = body.eventName;
  if (typeof name !== 'string' || name === '') throw new MalformedPayloadError('eventName is missing');
  const type = mapType(name);
  if (!type) {
    const why = SKIP_REASONS[name] ?? 'not an email event mailhook maps';
    return { events: [], skipped: [{ index: 0, reason: `Loops event "${name}": ${why}` }] };
  }
  if (!isObject(body.contactIdentity)) throw new MalformedPayloadError('contactIdentity must be an object');
  return { events: [buildEvent(name, type, body, headers.id)], skipped: [] };
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  return verifySignedRequest(req, source, ctx, PREFIXES);
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In Loops: Settings → Webhooks (one endpoint per Loops account).',
    `1. Endpoint URL: ${ingestUrl}`,
    ...credentialStep(source, {
      provider: 'Loops',
      step: 2,
      key: 'secret',
      copy: 'the signing secret Loops shows',
      example: 'whsec_…',
    }),
    '3. Turn on the email sending and email events, and contact.unsubscribed and',
    '   contact.mailingList.subscribed/unsubscribed: unsubscribes are read from the contact events,',
    '   which say whether the whole audience or one mailing list is concerned.',
    ...nextStep(source, 'secret', 'send an email through Loops'),
  ].join('\n');
}

export const loops = {
  id: 'loops',
  displayName: 'Loops',
  validateConfig: (config: unknown) => validateSecretConfig(config, 'loops'),
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
