import { createHash } from 'node:crypto';

/**
 * How long the values mailhook indexes may be. PostgreSQL refuses a B-tree entry over 2,704 bytes
 * (`index row size … exceeds btree version 4 maximum 2704`), and a provider controls the values
 * behind several indexes: the dedup key (Brevo and Mailjet build it from the clicked URL), the
 * recipient, the message id and the unsubscribe group. One over-long value would fail the pipeline's
 * whole transaction. Limits in UTF-8 bytes, chosen so that even the widest index (the event time
 * index, which includes recipient and message id) stays well under PostgreSQL's maximum; SQLite
 * applies the same rules so both stores keep the same data.
 */
export const FIELD_LIMITS = {
  /** Longer keys are replaced by their SHA-256: dedup stays exact, the index entry stays small. */
  key: 256,
  /** RFC 5321 allows 256 octets for a path; anything longer is not an address. */
  recipient: 320,
  /** RFC 5322's line length limit, which a Message-ID header cannot exceed. */
  messageId: 998,
} as const;

/** `value`, or `sha256:<hex>` of it when it is longer than FIELD_LIMITS.key bytes. */
export function indexableKey(value: string): string {
  if (value.length <= FIELD_LIMITS.key / 4 || Buffer.byteLength(value) <= FIELD_LIMITS.key) return value;
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

/** Whether `value` is longer than `maxBytes` in UTF-8. */
export function longerThan(value: string | null | undefined, maxBytes: number): boolean {
  if (!value || value.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(value) > maxBytes;
}
