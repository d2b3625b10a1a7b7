import type { BounceType } from '../events.js';

/**
 * SparkPost's bounce classification codes (`bounce_class` on bounce, out_of_band, delay,
 * policy_rejection and generation_rejection events), verbatim from SparkPost's own table:
 * SparkPost/support-docs `content/docs/deliverability/bounce-classification-codes.md`
 * (https://support.sparkpost.com/docs/deliverability/bounce-classification-codes, updated 02/08/2020).
 *
 * SparkPost's note under the table: "soft, block and undetermined are usually temporary events. If
 * you'd like to filter on suppression-level events, only check for hard or admin bounce-type events."
 */
export type SparkPostBounceCategory = 'Undetermined' | 'Hard' | 'Soft' | 'Block' | 'Admin';

export interface SparkPostBounceClass {
  name: string;
  description: string;
  category: SparkPostBounceCategory;
}

export const SPARKPOST_BOUNCE_CLASSES: Readonly<Record<number, SparkPostBounceClass>> = {
  1: {
    name: 'Undetermined',
    description: 'The response text could not be identified.',
    category: 'Undetermined',
  },
  10: { name: 'Invalid Recipient', description: 'The recipient is invalid.', category: 'Hard' },
  20: { name: 'Soft Bounce', description: 'The message soft bounced.', category: 'Soft' },
  21: { name: 'DNS Failure', description: 'The message bounced due to a DNS failure.', category: 'Soft' },
  22: {
    name: 'Mailbox Full',
    description: 'The message bounced due to the remote mailbox being over quota.',
    category: 'Soft',
  },
  23: {
    name: 'Too Large',
    description: 'The message bounced because it was too large for the recipient.',
    category: 'Soft',
  },
  24: { name: 'Timeout', description: 'The message timed out.', category: 'Soft' },
  25: {
    name: 'Admin Failure',
    description: "The message was failed by SparkPost's configured policies.",
    category: 'Admin',
  },
  30: {
    name: 'Generic Bounce: No RCPT',
    description: 'No recipient could be determined for the message.',
    category: 'Hard',
  },
  40: {
    name: 'Generic Bounce',
    description: 'The message failed for unspecified reasons.',
    category: 'Soft',
  },
  50: { name: 'Mail Block', description: 'The message was blocked by the receiver.', category: 'Block' },
  51: {
    name: 'Spam Block',
    description: 'The message was blocked by the receiver as coming from a known spam source.',
    category: 'Block',
  },
  52: {
    name: 'Spam Content',
    description: 'The message was blocked by the receiver as spam.',
    category: 'Block',
  },
  53: {
    name: 'Prohibited Attachment',
    description: 'The message was blocked by the receiver because it contained an attachment.',
    category: 'Block',
  },
  54: {
    name: 'Relaying Denied',
    description: 'The message was blocked by the receiver because relaying is not allowed.',
    category: 'Block',
  },
  60: { name: 'Auto-Reply', description: 'The message is an auto-reply/vacation mail.', category: 'Soft' },
  70: {
    name: 'Transient Failure',
    description: 'Message transmission has been temporarily delayed.',
    category: 'Soft',
  },
  80: { name: 'Subscribe', description: 'The message is a subscribe request.', category: 'Admin' },
  90: { name: 'Unsubscribe', description: 'The message is an unsubscribe request.', category: 'Hard' },
  100: {
    name: 'Challenge-Response',
    description: 'The message is a challenge-response probe.',
    category: 'Soft',
  },
};

/** Admin Failure: SparkPost's own policy (suppression list, sending limits…) refused the message. */
export const ADMIN_FAILURE_CLASS = 25;

export function sparkPostBounceClass(value: unknown): { code: number; entry: SparkPostBounceClass } | null {
  const code = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isInteger(code)) return null;
  const entry = SPARKPOST_BOUNCE_CLASSES[code];
  return entry ? { code, entry } : null;
}

/**
 * The canonical bounce type of a class. Hard → hard. Soft and Block → soft: a block is about the
 * sender's content or reputation, not the mailbox, and SparkPost calls both "usually temporary".
 * Admin and Undetermined (and codes SparkPost adds later) → undetermined: the class says nothing
 * about whether the mailbox exists; an Admin Failure turns the event into `email.dropped` instead.
 */
export function bounceTypeOfClass(value: unknown): BounceType {
  const found = sparkPostBounceClass(value);
  switch (found?.entry.category) {
    case 'Hard':
      return 'hard';
    case 'Soft':
    case 'Block':
      return 'soft';
    default:
      return 'undetermined';
  }
}
