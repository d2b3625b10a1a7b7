import type { BounceType, EmailEventType } from '../events.js';

/**
 * Postmark's bounce types (`Type` / `TypeCode` of a Bounce record), as listed in the Bounce API
 * reference (https://postmarkapp.com/developer/api/bounce-api#bounce-types) and the official
 * postmark.js enums (`BounceType`, `BounceTypeCode`). Each one is mapped to the canonical event it
 * means for the message:
 *
 * - a receiving server refused or returned the message → `email.bounced` (hard / soft / undetermined);
 * - Postmark itself refused to send (invalid or deactivated address) → `email.dropped`;
 * - "message delayed" → `email.deferred`;
 * - a rendering failure → `email.failed`;
 * - complaints and unsubscribe requests keep their own meaning;
 * - records that are not about an outbound message at all are skipped (kept in the raw inbox row).
 */
export type PostmarkOutcome = { type: EmailEventType; bounce?: BounceType } | { skip: string };

interface BounceTypeEntry {
  code: number;
  /** Postmark's short name and description, for the docs and for the bounce reason fallback. */
  name: string;
  outcome: PostmarkOutcome;
}

const bounced = (bounce: BounceType): PostmarkOutcome => ({ type: 'email.bounced', bounce });
const dropped = (bounce: BounceType): PostmarkOutcome => ({ type: 'email.dropped', bounce });

export const POSTMARK_BOUNCE_TYPES: Readonly<Record<string, BounceTypeEntry>> = {
  // "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
  HardBounce: { code: 1, name: 'Hard bounce', outcome: bounced('hard') },
  // "Message delayed": Postmark keeps trying, so this is a deferral, not a bounce.
  Transient: { code: 2, name: 'Message delayed', outcome: { type: 'email.deferred' } },
  // The recipient replied asking to be removed: an explicit request to stop mailing them.
  Unsubscribe: { code: 16, name: 'Unsubscribe request', outcome: { type: 'email.unsubscribed' } },
  // A reply asking to be added to a list says nothing about this message's delivery.
  Subscribe: {
    code: 32,
    name: 'Subscribe request',
    outcome: { skip: 'Postmark "Subscribe" bounce record (a subscribe request reply)' },
  },
  // Postmark groups auto-replies (and "nondescript NDRs") with soft bounces in its support pages.
  AutoResponder: { code: 64, name: 'Auto responder', outcome: bounced('soft') },
  AddressChange: { code: 128, name: 'Address change', outcome: bounced('undetermined') },
  // "A temporary DNS error."
  DnsError: { code: 256, name: 'DNS error', outcome: bounced('soft') },
  // Blocked by the user or classified as spam/bulk by the receiver: content or reputation, not the mailbox.
  SpamNotification: { code: 512, name: 'Spam notification', outcome: bounced('soft') },
  OpenRelayTest: { code: 1024, name: 'Open relay test', outcome: bounced('undetermined') },
  Unknown: { code: 2048, name: 'Unknown', outcome: bounced('undetermined') },
  // "Unable to temporarily deliver message (i.e. mailbox full, account disabled, exceeds quota…)."
  SoftBounce: { code: 4096, name: 'Soft bounce', outcome: bounced('soft') },
  VirusNotification: { code: 8192, name: 'Virus notification', outcome: bounced('soft') },
  ChallengeVerification: { code: 16384, name: 'Spam challenge verification', outcome: bounced('soft') },
  // "The address is not a valid email address": Postmark never hands it to a receiving server.
  BadEmailAddress: { code: 100000, name: 'Invalid email address', outcome: dropped('hard') },
  SpamComplaint: { code: 100001, name: 'Spam complaint', outcome: { type: 'email.complained' } },
  ManuallyDeactivated: { code: 100002, name: 'Manually deactivated', outcome: dropped('undetermined') },
  Unconfirmed: { code: 100003, name: 'Registration not confirmed', outcome: dropped('undetermined') },
  // "ISP block — Blocked from this ISP due to content or blacklisting": the receiver refused it.
  Blocked: { code: 100006, name: 'ISP block', outcome: bounced('soft') },
  // "An error occurred while accepting an email through the SMTP API": refused before sending.
  SMTPApiError: { code: 100007, name: 'SMTP API error', outcome: dropped('undetermined') },
  InboundError: {
    code: 100008,
    name: 'Processing failed',
    outcome: { skip: 'Postmark "InboundError" bounce record (inbound processing, not an outbound message)' },
  },
  // "Email rejected due to DMARC Policy": the receiver refused the sender's domain, not the mailbox.
  DMARCPolicy: { code: 100009, name: 'DMARC Policy', outcome: bounced('soft') },
  TemplateRenderingFailed: {
    code: 100010,
    name: 'Template rendering failed',
    outcome: { type: 'email.failed' },
  },
};

const BY_CODE = new Map(Object.entries(POSTMARK_BOUNCE_TYPES).map(([type, entry]) => [entry.code, type]));

/**
 * The outcome of a Bounce record, by `Type` first and `TypeCode` when the name is missing or new. A
 * bounce of a type Postmark adds later is still a bounce: undetermined, never dropped silently.
 */
export function postmarkBounceOutcome(
  type: string | null,
  typeCode: number | null,
): { type: string | null; entry: BounceTypeEntry | null; outcome: PostmarkOutcome } {
  const byName = type !== null ? POSTMARK_BOUNCE_TYPES[type] : undefined;
  if (byName) return { type, entry: byName, outcome: byName.outcome };
  const name = typeCode !== null ? BY_CODE.get(typeCode) : undefined;
  const byCode = name !== undefined ? POSTMARK_BOUNCE_TYPES[name] : undefined;
  if (name !== undefined && byCode) return { type: name, entry: byCode, outcome: byCode.outcome };
  return { type, entry: null, outcome: bounced('undetermined') };
}
