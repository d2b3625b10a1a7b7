import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, EmailEventType, ParsedEvent } from '../events.js';
import { sha256Hex } from './crypto.js';
import { bareMessageId, classFromCode, isObject, stringOrNull } from './mailgun-events.js';
import type { FormFields } from './mailgun-form.js';
import type { ParseResult } from './types.js';

/**
 * Mailgun's legacy webhooks (before 2018-06; read-only since 2023-04, announced as retired in
 * 2023-10, but existing ones kept posting): one form post per event with top-level `event`,
 * `recipient`, `timestamp`, `token`, `signature`, and the message's custom variables merged in as
 * top-level fields. When a variable is named like a Mailgun field both values are posted: Mailgun's
 * own value comes first, except for `signature`, `timestamp` and `token`, where it comes last.
 */

const TYPES: Record<string, EmailEventType> = {
  delivered: 'email.delivered',
  dropped: 'email.dropped',
  bounced: 'email.bounced',
  complained: 'email.complained',
  unsubscribed: 'email.unsubscribed',
  opened: 'email.opened',
  clicked: 'email.clicked',
};

/** Fields Mailgun documents for the opened, clicked and unsubscribed posts (plus ones seen in practice). */
const ENGAGEMENT_FIELDS = new Set([
  'event',
  'recipient',
  'domain',
  'ip',
  'country',
  'region',
  'city',
  'user-agent',
  'device-type',
  'client-type',
  'client-name',
  'client-os',
  'campaign-id',
  'campaign-name',
  'tag',
  'mailing-list',
  'timestamp',
  'token',
  'signature',
  'url',
  'message-id',
  'Message-Id',
  'h',
  'body-plain',
]);
const SIGNATURE_FIELDS = new Set(['signature', 'timestamp', 'token']);

function first(fields: FormFields, name: string): string | null {
  return stringOrNull(fields.get(name)?.[0]);
}

/** Mailgun's value of a signature field is the last one posted (a same-named variable comes first). */
export function lastValue(fields: FormFields, name: string): string | null {
  const values = fields.get(name);
  return stringOrNull(values?.[values.length - 1]);
}

/** `message-headers` is a JSON list of `[name, value]` pairs, in the original order. */
function messageHeaders(fields: FormFields): Array<[string, unknown]> {
  const text = first(fields, 'message-headers');
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (pair): pair is [string, unknown] => Array.isArray(pair) && typeof pair[0] === 'string',
    );
  } catch {
    return [];
  }
}

function headerValue(headers: Array<[string, unknown]>, name: string): unknown {
  return headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/**
 * Custom variables. Posts that carry `message-headers` (delivered, dropped, bounced, complained)
 * keep them exactly in the X-Mailgun-Variables header(s); the engagement posts only have the merged
 * top-level fields, so every field Mailgun does not document for them is a variable.
 */
function metadataOf(
  fields: FormFields,
  headers: Array<[string, unknown]>,
  event: string,
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const variables = headers.filter(([key]) => key.toLowerCase() === 'x-mailgun-variables');
  if (variables.length > 0) {
    for (const [, value] of variables) {
      try {
        const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
        if (isObject(parsed)) Object.assign(metadata, parsed);
      } catch {
        // A header Mailgun could not parse either; it stays visible in raw.
      }
    }
    return metadata;
  }
  if (event !== 'opened' && event !== 'clicked' && event !== 'unsubscribed') return metadata;
  for (const [name, values] of fields) {
    if (!ENGAGEMENT_FIELDS.has(name)) metadata[name] = values[values.length - 1];
    else if (values.length > 1 && name !== 'tag') {
      // Both Mailgun's value and a same-named variable: the variable is the one Mailgun's is not.
      metadata[name] = SIGNATURE_FIELDS.has(name) ? values[0] : values[values.length - 1];
    }
  }
  return metadata;
}

function bounceOf(fields: FormFields, event: string): BounceInfo {
  const code = first(fields, 'code');
  const reason = first(fields, 'error') ?? first(fields, 'notification') ?? first(fields, 'description');
  if (event === 'bounced') return { type: 'hard', code, reason }; // documented as hard bounces only
  // dropped/hardfail: 605 previously bounced (hard); 606 unsubscribed and 607 complained say nothing
  // about the mailbox.
  return {
    type: code === '605' ? 'hard' : 'undetermined',
    code,
    reason: first(fields, 'description') ?? reason,
  };
}

/** The raw event as posted: one value as a string, repeated fields as arrays. */
function rawOf(fields: FormFields): Record<string, string | string[]> {
  const raw: Record<string, string | string[]> = {};
  for (const [name, values] of fields) raw[name] = values.length === 1 ? (values[0] ?? '') : values;
  return raw;
}

/**
 * The raw event without its signature block (the last value of each SIGNATURE_FIELDS, which verify
 * read), because raw is delivered to every endpoint: a receiver, or whoever reads its logs, must not
 * be handed a working Mailgun signature. A custom variable reusing one of those names keeps its values.
 */
function rawWithoutSignature(fields: FormFields): Record<string, string | string[]> {
  const kept: FormFields = new Map(fields);
  for (const name of SIGNATURE_FIELDS) {
    const values = kept.get(name)?.slice(0, -1);
    if (values?.length) kept.set(name, values);
    else kept.delete(name);
  }
  return rawOf(kept);
}

export function parseLegacy(fields: FormFields): ParseResult {
  const event = first(fields, 'event');
  if (event === null) {
    const inbound = fields.has('sender') || fields.has('body-plain');
    const reason = inbound
      ? 'an inbound route post (Mailgun Routes forward), not an email event'
      : 'a form post without an "event" field';
    return { events: [], skipped: [{ index: 0, reason }] };
  }
  let type = TYPES[event];
  if (!type) {
    return { events: [], skipped: [{ index: 0, reason: `Mailgun legacy event "${event}" is not mapped` }] };
  }
  const timestamp = lastValue(fields, 'timestamp');
  if (timestamp === null || !/^\d{1,12}$/.test(timestamp)) {
    throw new MalformedPayloadError('legacy post: "timestamp" is not a Unix time in seconds');
  }
  const headers = messageHeaders(fields);
  const token = lastValue(fields, 'token');
  let bounce: BounceInfo | undefined;
  if (event === 'bounced') bounce = bounceOf(fields, event);
  if (event === 'dropped') {
    // `old`: Mailgun retried for more than 8 hours and gave up; the message was attempted.
    if (first(fields, 'reason') === 'old') {
      type = 'email.bounced';
      const code = first(fields, 'code');
      bounce = {
        type: classFromCode(code) === 'hard' ? 'hard' : 'soft',
        code,
        reason: first(fields, 'description'),
      };
    } else bounce = bounceOf(fields, event);
  }
  const recipient = first(fields, 'recipient');
  const tags = fields.get('tag') ?? fields.get('X-Mailgun-Tag') ?? [];
  const data: ParsedEvent['data'] = {
    // Legacy posts carry no event id; the token is unique per post.
    provider_event_id: token,
    message_id: bareMessageId(
      first(fields, 'Message-Id') ?? first(fields, 'message-id') ?? headerValue(headers, 'Message-Id'),
    ),
    recipient: recipient === null ? null : recipient.trim().toLowerCase(),
    user_agent: first(fields, 'user-agent'),
    ip: first(fields, 'ip'),
    tags: tags.filter((tag) => tag !== ''),
    metadata: metadataOf(fields, headers, event),
    // Attachments (multipart posts) are not kept; Mailgun's own `attachment-count` field says how many.
    raw: rawWithoutSignature(fields),
  };
  if (bounce) data.bounce = bounce;
  if (type === 'email.clicked') data.click = { url: first(fields, 'url') };
  if (type === 'email.opened') data.open = { machine: false };
  if (type === 'email.unsubscribed') data.unsubscribe = { group: first(fields, 'mailing-list') };
  return {
    events: [
      {
        type,
        timestamp: new Date(Number(timestamp) * 1000),
        dedupKey: token ? `legacy:${token}` : `sha256:${sha256Hex(JSON.stringify(rawOf(fields)))}`,
        data,
      },
    ],
    skipped: [],
  };
}
