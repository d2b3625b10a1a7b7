import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';

/**
 * Amazon SES events (the JSON inside an SNS Notification's `Message`) → canonical events, one per
 * recipient. Both formats: event publishing through a configuration set (`eventType`) and the older
 * identity feedback notifications (`notificationType`: Bounce, Complaint, Delivery). Field by field
 * from "Contents of event data that Amazon SES publishes to Amazon SNS" and "Amazon SNS notification
 * contents for Amazon SES".
 */

type SesObject = Record<string, unknown>;

export interface SnsFacts {
  /** SNS MessageId: one per notification, reused by SNS when it retries. */
  messageId: string;
  /** SNS Timestamp, the last-resort event time. */
  timestamp: string;
}

export type SesOutcome = { events: ParsedEvent[] } | { skipped: string };

function isObject(value: unknown): value is SesObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

const SES_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * SES writes `2017-08-05T00:41:02.669Z`, but its own mail-object example shows
 * `2018-10-08T14:05:45 +0000` (space, no colon), which `Date.parse` refuses; SES-compatible
 * services send microseconds. Normalise all of them; no zone means UTC.
 */
export function parseSesTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const match = SES_TIME.exec(value.trim());
  if (!match) return null;
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = Date.parse(`${date}T${time}.${millis}${offset}`);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** `"Jane Doe" <Jane@Example.com>` or `jane@example.com` → `jane@example.com`. */
function addressOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const angle = /<([^<>]+)>\s*$/.exec(value);
  const address = (angle?.[1] ?? value).trim().toLowerCase();
  return address === '' ? null : address;
}

/** `mail.tags` values are arrays of strings; a single value becomes a string so filters can match it. */
function metadataOf(mail: SesObject): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  if (!isObject(mail.tags)) return metadata;
  for (const [name, values] of Object.entries(mail.tags)) {
    const list = (Array.isArray(values) ? values : [values]).filter(
      (v): v is string => typeof v === 'string',
    );
    metadata[name] = list.length === 1 ? list[0] : list;
  }
  return metadata;
}

/** `name:value` for each value of each tag, skipping SES's automatic `ses:` tags (kept in metadata). */
function flattenTags(tags: unknown, ownOnly: boolean): string[] {
  if (!isObject(tags)) return [];
  const flat: string[] = [];
  for (const [name, values] of Object.entries(tags)) {
    if (ownOnly && name.startsWith('ses:')) continue;
    for (const value of Array.isArray(values) ? values : [values]) {
      if (typeof value === 'string') flat.push(`${name}:${value}`);
    }
  }
  return flat;
}

/** What differs between the events of one SES record: everything else is shared. */
interface Item {
  type: EmailEventType;
  recipient: string;
  extra?: Partial<ParsedEvent['data']>;
  /** Appended to the dedup key when one record yields several events for one recipient. */
  discriminator?: string;
}

function destinations(mail: SesObject): string[] {
  const list = Array.isArray(mail.destination) ? mail.destination : [];
  return list.map(addressOf).filter((a): a is string => a !== null);
}

function eachRecipient(
  list: unknown,
  pick: (entry: unknown) => unknown,
  what: string,
): { address: string; entry: SesObject }[] {
  if (!Array.isArray(list)) throw new MalformedPayloadError(`SES ${what} list is missing`);
  return list.flatMap((entry) => {
    const address = addressOf(pick(entry));
    return address ? [{ address, entry: isObject(entry) ? entry : {} }] : [];
  });
}

function bounceClass(bounceType: string | null): BounceType {
  if (bounceType === 'Permanent') return 'hard';
  if (bounceType === 'Transient') return 'soft';
  return 'undetermined';
}

/** SES never attempted these: the address was already on a suppression list. */
const SUPPRESSED_SUBTYPES = new Set(['Suppressed', 'OnAccountSuppressionList']);

function bounceItems(bounce: SesObject): Item[] {
  const bounceType = text(bounce.bounceType);
  const subType = text(bounce.bounceSubType);
  const dropped = bounceType === 'Permanent' && subType !== null && SUPPRESSED_SUBTYPES.has(subType);
  const summary = [bounceType, subType].filter(Boolean).join(': ') || null;
  return eachRecipient(
    bounce.bouncedRecipients,
    (r) => isObject(r) && r.emailAddress,
    'bouncedRecipients',
  ).map(({ address, entry }) => {
    const info: BounceInfo = {
      type: bounceClass(bounceType),
      code: text(entry.status),
      reason: text(entry.diagnosticCode) ?? summary,
    };
    return { type: dropped ? 'email.dropped' : 'email.bounced', recipient: address, extra: { bounce: info } };
  });
}

function complaintItems(complaint: SesObject): Item[] {
  // complaintSubType OnAccountSuppressionList: SES did not send at all; not a new complaint.
  const suppressed = text(complaint.complaintSubType) === 'OnAccountSuppressionList';
  const list = eachRecipient(
    complaint.complainedRecipients,
    (r) => isObject(r) && r.emailAddress,
    'complainedRecipients',
  );
  return list.map(({ address }) =>
    suppressed
      ? {
          type: 'email.dropped' as const,
          recipient: address,
          extra: {
            bounce: { type: 'undetermined' as const, code: null, reason: 'OnAccountSuppressionList' },
          },
        }
      : {
          type: 'email.complained' as const,
          recipient: address,
          extra: { user_agent: text(complaint.userAgent) },
        },
  );
}

interface TopicPreferences {
  all: boolean;
  topics: Map<string, string>;
}

function preferencesOf(value: unknown): TopicPreferences | null {
  if (!isObject(value)) return null;
  const topics = new Map<string, string>();
  for (const entry of Array.isArray(value.topicSubscriptionStatus) ? value.topicSubscriptionStatus : []) {
    if (!isObject(entry)) continue;
    const name = text(entry.topicName);
    const status = text(entry.subscriptionStatus);
    if (name && status) topics.set(name, status);
  }
  return { all: value.unsubscribeAll === true, topics };
}

/**
 * A Subscription record carries the contact's preferences before and after the change; emit what
 * changed: `unsubscribeAll` false→true is a global unsubscribe (group null), true→false a global
 * resubscribe, a topic turning OptOut/OptIn an unsubscribe/resubscribe in that group. Without the
 * old preferences an OptIn proves nothing (it may be the topic's default), an OptOut does.
 */
function subscriptionChanges(subscription: SesObject): { type: EmailEventType; group: string | null }[] {
  const after = preferencesOf(subscription.newTopicPreferences);
  if (!after) throw new MalformedPayloadError('SES Subscription record has no newTopicPreferences');
  const before = preferencesOf(subscription.oldTopicPreferences);
  const changes: { type: EmailEventType; group: string | null }[] = [];
  if (after.all && !before?.all) changes.push({ type: 'email.unsubscribed', group: null });
  if (!after.all && before?.all) changes.push({ type: 'email.resubscribed', group: null });
  for (const [topic, status] of after.topics) {
    const previous = before?.topics.get(topic);
    if (status === previous) continue;
    if (status === 'OptOut') changes.push({ type: 'email.unsubscribed', group: topic });
    if (status === 'OptIn' && previous === 'OptOut')
      changes.push({ type: 'email.resubscribed', group: topic });
  }
  // Nothing visibly changed but the contact is unsubscribed from everything: say so.
  if (changes.length === 0 && after.all) changes.push({ type: 'email.unsubscribed', group: null });
  return changes;
}

function objectOf(record: SesObject, key: string, kind: string): SesObject {
  const value = record[key];
  if (!isObject(value)) throw new MalformedPayloadError(`SES ${kind} record has no "${key}" object`);
  return value;
}

/** The record's type object and, per recipient, the canonical type; null for a type mailhook ignores. */
function itemsOf(kind: string, record: SesObject, mail: SesObject): { items: Item[]; when: unknown } | null {
  const everyone = (type: EmailEventType, extra?: Item['extra']): Item[] =>
    destinations(mail).map((recipient) => ({ type, recipient, ...(extra && { extra }) }));
  switch (kind) {
    case 'Send':
      return { items: everyone('email.sent'), when: mail.timestamp };
    case 'Delivery': {
      const delivery = objectOf(record, 'delivery', kind);
      const items = Array.isArray(delivery.recipients)
        ? eachRecipient(delivery.recipients, (r) => r, 'recipients').map(({ address }) => ({
            type: 'email.delivered' as const,
            recipient: address,
          }))
        : everyone('email.delivered');
      return { items, when: delivery.timestamp };
    }
    case 'Bounce': {
      const bounce = objectOf(record, 'bounce', kind);
      return { items: bounceItems(bounce), when: bounce.timestamp };
    }
    case 'Complaint': {
      const complaint = objectOf(record, 'complaint', kind);
      return { items: complaintItems(complaint), when: complaint.timestamp };
    }
    case 'Reject': {
      const reject = objectOf(record, 'reject', kind);
      const bounce: BounceInfo = { type: 'undetermined', code: null, reason: text(reject.reason) };
      return { items: everyone('email.dropped', { bounce }), when: mail.timestamp };
    }
    case 'Open': {
      const open = objectOf(record, 'open', kind);
      const extra = { ip: text(open.ipAddress), user_agent: text(open.userAgent), open: { machine: false } };
      return { items: everyone('email.opened', extra), when: open.timestamp };
    }
    case 'Click': {
      const click = objectOf(record, 'click', kind);
      const extra = {
        ip: text(click.ipAddress),
        user_agent: text(click.userAgent),
        click: { url: text(click.link) },
      };
      return { items: everyone('email.clicked', extra), when: click.timestamp };
    }
    // Documented with a space; SES's API and console spell the type RenderingFailure, so accept both.
    case 'Rendering Failure':
    case 'RenderingFailure':
      return { items: everyone('email.failed'), when: mail.timestamp };
    case 'DeliveryDelay': {
      const delay = objectOf(record, 'deliveryDelay', kind);
      const items = eachRecipient(
        delay.delayedRecipients,
        (r) => isObject(r) && r.emailAddress,
        'delayedRecipients',
      ).map(({ address }) => ({ type: 'email.deferred' as const, recipient: address }));
      return { items, when: delay.timestamp };
    }
    case 'Subscription': {
      const subscription = objectOf(record, 'subscription', kind);
      const changes = subscriptionChanges(subscription);
      const items = destinations(mail).flatMap((recipient) =>
        changes.map(({ type, group }) => ({
          type,
          recipient,
          extra: { unsubscribe: { group } },
          discriminator: `${type}:${group ?? '*'}`,
        })),
      );
      return { items, when: subscription.timestamp };
    }
    default:
      return null;
  }
}

/** Messages that reach an SES topic but are no email event. */
const NOT_EVENTS: Record<string, string> = {
  AmazonSnsSubscriptionSucceeded: 'SES confirmation that the topic is subscribed to identity notifications',
  Received: 'SES inbound (receiving) notification; mailhook handles sending events only',
};

export function sesEvents(record: unknown, sns: SnsFacts): SesOutcome {
  if (!isObject(record)) return { skipped: 'SNS message is JSON but not an Amazon SES event object' };
  const kind = text(record.eventType) ?? text(record.notificationType);
  if (kind === null) return { skipped: 'SNS message is not an Amazon SES event (no eventType)' };
  const notEvent = NOT_EVENTS[kind];
  if (notEvent) return { skipped: notEvent };
  const mail = isObject(record.mail) ? record.mail : null;
  if (!mail) throw new MalformedPayloadError(`SES ${kind} record has no "mail" object`);
  const mapped = itemsOf(kind, record, mail);
  if (!mapped) return { skipped: `Amazon SES event type "${kind}" is not one mailhook maps` };
  if (mapped.items.length === 0) {
    if (kind === 'Subscription') return { skipped: 'SES Subscription record without a change mailhook maps' };
    throw new MalformedPayloadError(`SES ${kind} record names no recipient`);
  }

  const timestamp = parseSesTime(mapped.when) ?? parseSesTime(mail.timestamp) ?? parseSesTime(sns.timestamp);
  if (!timestamp) throw new MalformedPayloadError(`SES ${kind} record has no readable timestamp`);
  const ownTags = flattenTags(mail.tags, true);
  const linkTags =
    kind === 'Click' && isObject(record.click) ? flattenTags(record.click.linkTags, false) : [];
  const tags = [...new Set([...ownTags, ...linkTags])];
  const metadata = metadataOf(mail);
  const messageId = text(mail.messageId);

  const events = mapped.items.map((item): ParsedEvent => {
    const suffix = item.discriminator ? `:${item.discriminator}` : '';
    return {
      type: item.type,
      timestamp,
      // SNS resends a notification with the same MessageId; one notification covers several recipients.
      dedupKey: `${sns.messageId}:${item.recipient}${suffix}`,
      data: {
        provider_event_id: sns.messageId,
        message_id: messageId,
        recipient: item.recipient,
        user_agent: null,
        ip: null,
        tags,
        metadata,
        raw: record,
        ...item.extra,
      },
    };
  });
  return { events };
}
