import { createHash } from 'node:crypto';

/** Dedup keys of at most this many UTF-8 bytes are stored as they are. */
export const STORED_KEY_MAX_BYTES = 32;

/**
 * A dedup key as the events table stores it: as it is up to 32 UTF-8 bytes (SendGrid's `sg_event_id`,
 * Mailgun's event id), else `#` and the first 32 hex digits of its SHA-256 (128 bits). Keys built from
 * a hash of several fields (Postmark's `Delivery:sha256:<64 hex>`, 82 bytes) or an `Idempotency-Key`
 * are stored in 33 characters on PostgreSQL (16 bytes on SQLite: sqliteDedupKey), in the row and
 * again in the unique index beside the source id. A key stored as it is has at most 32 bytes, so it
 * never equals a digest. Migration 012 applies the same to the keys stored before it: SQLite calls
 * this function (registered as `mailhook_dedup_key` on the connection that migrates; 014 then turns
 * the digests into bytes), PostgreSQL computes it with `sha256()` (docs/benchmarks.md#disk-per-event).
 */
export function storedDedupKey(key: string): string {
  return keptAsIs(key) ? key : `#${dedupDigest(key).toString('hex')}`;
}

/**
 * A dedup key as SQLite's events table stores it since migration 014: the same rule, but a digest is
 * its 16 bytes as a BLOB rather than 33 characters of text, 34 bytes less in the row and the unique
 * index. A BLOB never equals a TEXT value in SQLite, so a digest still never matches a key kept as it
 * is. PostgreSQL's column is text and keeps storedDedupKey's form.
 */
export function sqliteDedupKey(key: string): string | Buffer {
  return keptAsIs(key) ? key : dedupDigest(key);
}

function keptAsIs(key: string): boolean {
  return key.length * 3 <= STORED_KEY_MAX_BYTES || Buffer.byteLength(key) <= STORED_KEY_MAX_BYTES;
}

/** The first 128 bits of the key's SHA-256. */
function dedupDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, 16);
}
