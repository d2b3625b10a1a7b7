import type { BounceType, EmailEventType } from '../events.js';

/**
 * What an Elastic Email `Error` notification means, by its `category`. Elastic Email retries 4xx
 * failures for up to 48 hours, so an `Error` is final for that email; the category says why.
 * Sources: help.elasticemail.com "What are the bounce error categories and filters" (2300650), the
 * category descriptions in Elastic Email's own WordPress plugin (`$errordesc`), and the list its
 * developers confirmed to the CiviCRM Airmail extension (api.elasticemail.com/public/help
 * #classes_MessageCategory).
 */
export type ErrorOutcome =
  | { type: 'email.bounced'; bounce: BounceType }
  | { type: 'email.dropped' }
  | { type: 'email.failed' };

const HARD: ErrorOutcome = { type: 'email.bounced', bounce: 'hard' };
const SOFT: ErrorOutcome = { type: 'email.bounced', bounce: 'soft' };
const UNDETERMINED: ErrorOutcome = { type: 'email.bounced', bounce: 'undetermined' };
const DROPPED: ErrorOutcome = { type: 'email.dropped' };

export const ERROR_CATEGORIES: Record<string, ErrorOutcome> = {
  // "The address does not appear to exist… will permanently turn the contact's status to Invalid."
  nomailbox: HARD,
  // Recipient's server or filters refused this content / this sender; the mailbox itself is fine.
  spam: SOFT,
  contentfilter: SOFT,
  blacklisted: SOFT,
  spfproblem: SOFT,
  whitelistingproblem: SOFT,
  // Temporary by nature, and given up on only after the 48-hour retry window.
  greylisted: SOFT,
  throttled: SOFT,
  timeout: SOFT,
  connectionproblem: SOFT,
  // "Full or inactive" (AccountProblem), "does not exist or could not be resolved" (DNSProblem),
  // "status is unknown" (ConnectionTerminated): the category alone does not say which.
  accountproblem: UNDETERMINED,
  dnsproblem: UNDETERMINED,
  connectionterminated: UNDETERMINED,
  unknown: UNDETERMINED,
  // Never attempted: "Delivery was not attempted" (Ignore); "recipient has a blocked status for
  // either hard bouncing, being unsubscribed or complained" (NotDelivered[Cancelled]); cancelled by
  // the user or Elastic Email (ManualCancel); on the unsubscribe / abuse lists; suppressed.
  ignore: DROPPED,
  notdelivered: DROPPED,
  notdeliveredcancelled: DROPPED,
  manualcancel: DROPPED,
  unsubscribed: DROPPED,
  abusereport: DROPPED,
  suppressed: DROPPED,
  // "An unexpected error has occurred" — at Elastic Email, not at the recipient.
  codeerror: { type: 'email.failed' },
};

/** `status` values (case-insensitive); `Error` is resolved through ERROR_CATEGORIES. */
export const STATUS_TYPES: Record<string, EmailEventType> = {
  // Elastic Email has no separate delivery event: Sent means the recipient's server accepted it.
  sent: 'email.delivered',
  opened: 'email.opened',
  clicked: 'email.clicked',
  unsubscribed: 'email.unsubscribed',
  abusereport: 'email.complained',
};

/** Parameters Elastic Email documents; any other one is the user's own (echoed as metadata). */
export const KNOWN_FIELDS = new Set([
  'transaction',
  'messageid',
  'from',
  'to',
  'date',
  'subject',
  'status',
  'channel',
  'account',
  'category',
  'target',
  'postback',
]);

const ISO_DATE =
  /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?$/i;

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0): Date | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return date.getUTCDate() === d ? date : null;
}

function fromIso(match: RegExpExecArray): Date | null {
  const [, y, mo, d, h, mi, s = '0', fraction = '', zone] = match;
  const ms = fraction ? Number(fraction.slice(1, 4).padEnd(3, '0')) : 0;
  const base = utc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), ms);
  if (!base || !zone || zone.toUpperCase() === 'Z') return base;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return new Date(base.getTime() - sign * minutes * 60_000);
}

function fromUs(match: RegExpExecArray): Date | null {
  const [, a, b, y, h, mi, s = '0', meridiem] = match;
  let month = Number(a);
  let day = Number(b);
  // .NET's en-US "M/d/yyyy h:mm:ss tt" is the observed shape; a first field over 12 can only be a day.
  if (month > 12 && day <= 12) [month, day] = [day, month];
  let hour = Number(h);
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem.toUpperCase() === 'PM' ? 12 : 0);
  }
  return utc(Number(y), month, day, hour, Number(mi), Number(s));
}

/**
 * `date` is documented only as "date and time of the event, UTC". Its format is UNCONFIRMED: a
 * Ruby client parses `%m/%d/%Y %H:%M:%S %p` (e.g. `6/14/2024 4:05:09 PM`); ISO 8601 and Unix
 * seconds are accepted too. Values without a zone are UTC, as documented.
 */
export function parseEventDate(value: string | null): Date | null {
  const text = value?.trim();
  if (!text) return null;
  if (/^\d{9,13}$/.test(text)) {
    const n = Number(text);
    return new Date(n > 1e12 ? n : n * 1000);
  }
  const iso = ISO_DATE.exec(text);
  if (iso) return fromIso(iso);
  const us = US_DATE.exec(text);
  return us ? fromUs(us) : null;
}
