import type { CanonicalEvent } from '../events.js';
import { joinedEventColumns, joinedEventJson, type SourceIdSql } from './event-body.js';

/**
 * A raw request posted with one event usually IS that event: Postmark, Brevo or MailerSend post the
 * event object itself. Its bytes would then be stored twice, in the inbox row and as the event's
 * `data.raw`. When `JSON.stringify(data.raw)` gives the request body back byte for byte (checked
 * here, so compact bodies only), the inbox row keeps the event's id in `raw_event` and an empty
 * body, and reading the row takes the body from the event. Retention keeps such an event as long
 * as the row (src/store/*\/retention.ts); every other row keeps its body.
 */

const EMPTY = Buffer.alloc(0);

/**
 * The id of `event` (the one event the request's processing stored) when its data.raw serializes to
 * `body` exactly; null when the row must keep its body (or there is no body to compare).
 */
export function rawHolder(body: Buffer | undefined, event: CanonicalEvent | null): string | null {
  // An own-type event stores its publisher's data (EventData.toJSON), never data.raw.
  if (!event || !body?.length || 'toJSON' in event.data) return null;
  const raw = (event.data as { raw?: unknown } | undefined)?.raw;
  if (raw === undefined || raw === null || typeof raw !== 'object') return null;
  const text = JSON.stringify(raw);
  if (text.length > body.length || Buffer.byteLength(text) !== body.length) return null;
  return body.equals(Buffer.from(text)) ? event.id : null;
}

/** The body column's value for a row whose body `holder` (rawHolder) keeps, or the body itself. */
export function storedInboxBody(body: Buffer, holder: string | null): Buffer {
  return holder ? EMPTY : body;
}

/**
 * `select` (inbox rows, `SELECT * FROM inbox …`) with the columns of the event holding each row's
 * body, for inboxRowFrom; `order` orders the outer select, since a join may not keep the inner order.
 * `sourceId` reads the source ids of rows that hold a key instead (SQLite).
 */
export function withBodyHolder(select: string, order = '', sourceId?: SourceIdSql): string {
  const source = sourceId ? `, ${sourceId('i')} AS source_id` : '';
  return `SELECT i.*${source}, ${joinedEventColumns('e', sourceId)} FROM (${select}) i LEFT JOIN events e ON e.id = i.raw_event ${order}`;
}

/**
 * The events among `candidates` (a subquery of event keys, `key` being `rowid` or `id`: the rows a
 * retention batch is about to take, chosen as its delete chooses them but for the holder test) that
 * hold a kept inbox row's body. The pruner gives each row its body back (`heldBody`) in the batch's
 * transaction before deleting events, and the delete passes over any holder left. Bounded by the
 * batch's candidates, not by holders found, so a batch costs the same whether or not any event holds
 * a body; only the holders' bodies are read.
 */
export const HELD_BODIES_AMONG = (candidates: string, key: 'rowid' | 'id', sourceId?: SourceIdSql) => `
  SELECT i.id AS inbox_id, ${joinedEventColumns('e', sourceId)}
  FROM events e JOIN inbox i ON i.id = e.inbox_id AND i.raw_event = e.id
  WHERE e.${key} IN (${candidates})`;

/** The condition, on an events row aliased `e`, that it holds no inbox row's body. */
export const HOLDS_NO_BODY =
  'NOT EXISTS (SELECT 1 FROM inbox i WHERE i.id = e.inbox_id AND i.raw_event = e.id)';

/** A row of HELD_BODIES_AMONG. */
export interface HeldBody {
  inbox_id: string | Uint8Array;
  ev_id: string | Uint8Array;
}

/** Gives a row its body back from the event it names (placeholders: body, row id, event id). */
export const RESTORE_BODY = (body: string, id: string, event: string) =>
  `UPDATE inbox SET body = ${body}, raw_event = NULL WHERE id = ${id} AND raw_event = ${event}`;

/** The body a HELD_BODIES_AMONG row gives back to its inbox row. */
export function heldBody(row: HeldBody): Buffer {
  return inboxBody({ body: EMPTY, raw_event: row.ev_id, ...row });
}

/**
 * An inbox row's body: its own, or the one its event holds. An event missing would mean retention
 * broke its rule; the row then reads with an empty body (the pipeline quarantines it) rather than
 * failing every listing of the inbox.
 */
export function inboxBody(row: { body: Buffer; raw_event?: string | Uint8Array | null }): Buffer {
  if (!row.raw_event) return row.body;
  const json = joinedEventJson(row);
  if (json === null) return EMPTY;
  const raw = (JSON.parse(json) as { data?: { raw?: unknown } }).data?.raw;
  return Buffer.from(JSON.stringify(raw));
}
