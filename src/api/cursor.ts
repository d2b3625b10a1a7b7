import { calendarDateExists } from '../dates.js';
import { MailhookError } from '../errors.js';
import { type IdKind, isId } from '../ids.js';
import { containsNul } from '../nul.js';
import type { EventPosition } from '../store/store.js';

/** Cursors are opaque to clients: base64url JSON, validated on the way back in. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(text: string, isValid: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    // A NUL could only come from a forged cursor, and PostgreSQL cannot compare it (see nul.ts).
    if (isValid(value) && !containsNul(value)) return value;
  } catch {
    // fall through to the error below
  }
  throw new MailhookError('MH_ERR_INVALID_CURSOR');
}

/** A cursor that is the last id of the previous page (inbox rows, deliveries): checked, not trusted. */
export function idCursor(cursor: string, kind: IdKind): string {
  if (!isId(cursor, kind)) throw new MailhookError('MH_ERR_INVALID_CURSOR');
  return cursor;
}

/** Parses an ISO 8601 date-time or Unix seconds from a query parameter. */
export function parseTime(name: string, text: string | undefined): Date | undefined {
  if (text === undefined || text === '') return undefined;
  const date = /^\d+$/.test(text) ? new Date(Number(text) * 1000) : new Date(text);
  if (Number.isNaN(date.getTime()) || !calendarDateExists(text)) {
    throw new MailhookError('MH_ERR_VALIDATION', `${name} must be an ISO 8601 date-time or Unix seconds`);
  }
  return date;
}

/**
 * A position in stored order as clients see it (the stream's event ids, `after` and `next_after`):
 * `<seq>`, or `<tx>.<seq>` when the transaction matters (PostgreSQL). Opaque to clients; digits only,
 * so it travels in a header or a URL as it is.
 */
export function formatPosition(position: EventPosition): string {
  return position.tx === 0n ? `${position.seq}` : `${position.tx}.${position.seq}`;
}

const POSITION = /^(?:(\d{1,20})\.)?(\d{1,19})$/;
const MAX_TX = 2n ** 64n - 1n;
const MAX_SEQ = 2n ** 63n - 1n;

/** The position `text` names, or null when it is not one (an event id, say). */
export function parsePosition(text: string): EventPosition | null {
  const match = POSITION.exec(text);
  if (!match) return null;
  const tx = BigInt(match[1] ?? 0);
  const seq = BigInt(match[2] ?? 0);
  return tx <= MAX_TX && seq <= MAX_SEQ ? { tx, seq } : null;
}
