import { calendarDateExists } from '../dates.js';
import { MailhookError } from '../errors.js';
import { type IdKind, isId } from '../ids.js';
import { containsNul } from '../nul.js';

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
