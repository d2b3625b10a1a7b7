/**
 * A commit could not be made durable: nothing it wrote may be acknowledged, and storing the same rows
 * again would not make the first copy durable either (sqlite/wal-sync.ts).
 */
export class DurabilityError extends Error {
  override readonly name = 'DurabilityError';
}
