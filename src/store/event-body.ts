import type { CanonicalEvent } from '../events.js';

/**
 * How an event is stored in `events.body` and turned back into the JSON that is served and delivered.
 *
 * `BODY_WHOLE` (0): the body is the whole event, as every row stored before migration 012 holds it,
 * and as own-type events are stored (their data is the publisher's, kept exactly as published).
 *
 * `BODY_LEAN` (1): the body is the event's data without the fields the row already has in columns
 * (`id`, `type`, `timestamp` as `occurred_at`, `data.provider`, `data.source_id`, `data.message_id`,
 * `data.recipient`), about 250 bytes less per event. Reading composes the event from the columns and
 * the body by string concatenation, with those fields first; a lean event is written with the same
 * composition (`eventBody`), so the JSON a delivery handed off in memory sends and the JSON read back
 * from the row are the same bytes.
 */
export const BODY_WHOLE = 0;
export const BODY_LEAN = 1;

/** The columns of an events row that reading an event needs. */
export interface EventBodyRow {
  id: string;
  type: string;
  /** Unix ms; PostgreSQL's driver gives a BIGINT as a string. */
  occurred_at: number | string;
  provider: string | null;
  source_id: string;
  message_id: string | null;
  recipient: string | null;
  body: string;
  body_format: number;
}

const BODY_COLUMNS = [
  'id',
  'type',
  'occurred_at',
  'provider',
  'source_id',
  'message_id',
  'recipient',
  'body',
  'body_format',
] as const;

/** The column list reading an event selects, from a table aliased `alias` (or unaliased). */
export function eventBodyColumns(alias?: string): string {
  const from = alias ? `${alias}.` : '';
  return BODY_COLUMNS.map((c) => `${from}${c}`).join(', ');
}

/**
 * The same columns but the body, for a scan that reads the body only of the rows it keeps (`CASE WHEN
 * … THEN body END AS body` beside them) and passes over the others without reading theirs.
 */
export const EVENT_COLUMNS_BUT_BODY = BODY_COLUMNS.filter((c) => c !== 'body').join(', ');

/**
 * The same columns, each named `ev_<column>`, for a select that also reads another table's columns of
 * the same names (a delivery joined to its event); `joinedEventJson` reads them back.
 */
export function joinedEventColumns(alias: string): string {
  return BODY_COLUMNS.map((c) => `${alias}.${c} AS ev_${c}`).join(', ');
}

/** The JSON of the event joined with `joinedEventColumns`; null when no event was joined. */
export function joinedEventJson(row: object): string | null {
  const joined = row as Record<string, unknown>;
  if (typeof joined.ev_body !== 'string') return null;
  const picked: Record<string, unknown> = {};
  for (const c of BODY_COLUMNS) picked[c] = joined[`ev_${c}`];
  return eventJson(picked as unknown as EventBodyRow);
}

interface Stored {
  /** The JSON served and delivered. */
  json: string;
  /** What `events.body` holds, and its format. */
  body: string;
  format: number;
}

const stored = new WeakMap<CanonicalEvent, Stored>();

/**
 * The JSON stored for, served as and delivered as `event`. Kept per event object, so a delivery handed
 * off in the transaction that stored the event (hand-off.ts) reuses the string instead of serializing
 * the event a second time on the write path.
 */
export function eventBody(event: CanonicalEvent): string {
  return storedForm(event).json;
}

/** What the `body` and `body_format` columns of the event's row hold. */
export function storedBody(event: CanonicalEvent): { body: string; format: number } {
  return storedForm(event);
}

function storedForm(event: CanonicalEvent): Stored {
  let form = stored.get(event);
  if (form === undefined) {
    form = leanForm(event) ?? wholeForm(event);
    stored.set(event, form);
  }
  return form;
}

function wholeForm(event: CanonicalEvent): Stored {
  const json = JSON.stringify(event);
  return { json, body: json, format: BODY_WHOLE };
}

/**
 * A string a TEXT column gives back as it was given: both stores turn a lone UTF-16 surrogate into
 * U+FFFD, where the JSON body keeps it as an escape.
 */
const isColumnString = (value: unknown): value is string => typeof value === 'string' && value.isWellFormed();
const isNullableString = (value: unknown): value is string | null => value === null || isColumnString(value);

/**
 * The lean form, when the columns give back exactly what the event holds: canonical data (no own-type
 * `toJSON`) whose four column fields are present as well-formed strings or null, and a timestamp in
 * the millisecond ISO form `occurred_at` turns back into.
 */
function leanForm(event: CanonicalEvent): Stored | null {
  const data = event.data as unknown as Record<string, unknown>;
  if (data === null || typeof data !== 'object' || Array.isArray(data) || 'toJSON' in data) return null;
  const { provider, source_id, message_id, recipient, ...rest } = data;
  if (!isColumnString(source_id) || !isNullableString(provider)) return null;
  if (!isNullableString(message_id) || !isNullableString(recipient)) return null;
  if (!isColumnString(event.id) || !isColumnString(event.type)) return null;
  const at = Date.parse(event.timestamp);
  if (Number.isNaN(at) || new Date(at).toISOString() !== event.timestamp) return null;
  const body = JSON.stringify(rest);
  const json = compose(
    event.id,
    event.type,
    event.timestamp,
    provider,
    source_id,
    message_id,
    recipient,
    body,
  );
  return { json, body, format: BODY_LEAN };
}

function compose(
  id: string,
  type: string,
  timestamp: string,
  provider: string | null,
  sourceId: string,
  messageId: string | null,
  recipient: string | null,
  rest: string,
): string {
  const head =
    `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(timestamp)},` +
    `"data":{"provider":${JSON.stringify(provider)},"source_id":${JSON.stringify(sourceId)},` +
    `"message_id":${JSON.stringify(messageId)},"recipient":${JSON.stringify(recipient)}`;
  return rest === '{}' ? `${head}}}` : `${head},${rest.slice(1)}}`;
}

/** The JSON of a stored event, from its row (EventBodyRow's columns). */
export function eventJson(row: EventBodyRow): string {
  if (row.body_format !== BODY_LEAN) return row.body;
  const timestamp = new Date(Number(row.occurred_at)).toISOString();
  return compose(
    row.id,
    row.type,
    timestamp,
    row.provider,
    row.source_id,
    row.message_id,
    row.recipient,
    row.body,
  );
}

/** A stored event, from its row. */
export function eventFromRow(row: EventBodyRow): CanonicalEvent {
  return JSON.parse(eventJson(row)) as CanonicalEvent;
}
