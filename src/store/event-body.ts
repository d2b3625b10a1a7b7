import type { CanonicalEvent } from '../events.js';
import { idText } from './stored-id.js';

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

/**
 * `BODY_ELIDED` + mask (migration 013): a lean body that also leaves out the fields in `ELIDED` whose
 * mask bit is set: each had its usual value (`provider_event_id: null`, `metadata: {}`,
 * `received_via: "webhook"`…), or, for `received_at`, is in the row's `received_at` column. Composing
 * puts them back right after the column fields, in `ELIDED`'s order, and the other fields after them
 * in their own order; the event's JSON is that composition from the start, so stored, served and
 * delivered bytes stay the same. About 130 bytes less per webhook event. The two bits after
 * `ELIDED`'s (written from 2026-12-07) mark column values the body holds by reference (`REFERENCED`).
 */
export const BODY_ELIDED = 2;

/** The fields a BODY_ELIDED body may leave out, in the order composing puts them back (mask bit i). */
const ELIDED = [
  ['provider_event_id', 'null'],
  ['user_agent', 'null'],
  ['ip', 'null'],
  ['tags', '[]'],
  ['metadata', '{}'],
  ['received_at', null],
  ['received_via', '"webhook"'],
] as const;

const ELIDED_BIT = new Map<string, number>(ELIDED.map(([key], bit) => [key, bit]));

/**
 * Column values a BODY_ELIDED body may hold by reference (mask bit `ELIDED.length + i`): the first
 * occurrence of the value's JSON string in the body is replaced by a control character, and composing
 * puts the string back there. Providers' payloads carry the message id and the recipient that the
 * row already holds in columns (Postmark's `MessageID` and `Recipient`, SendGrid's `email`…), about
 * 60 bytes per event. JSON.stringify escapes every character below U+0020, so the marker never
 * occurs in a body otherwise, and the replacement reverses exactly wherever the value stood.
 */
const REFERENCED = [
  ['message_id', '\u0001'],
  ['recipient', '\u0002'],
] as const;

/** The columns of an events row that reading an event needs. */
export interface EventBodyRow {
  /** SQLite gives a canonical id back as its 16 bytes (stored-id.ts). */
  id: string | Uint8Array;
  type: string;
  /** Unix ms; PostgreSQL's driver gives a BIGINT as a string. */
  occurred_at: number | string;
  provider: string | null;
  source_id: string;
  message_id: string | null;
  recipient: string | null;
  body: string;
  body_format: number;
  /** Unix ms of `data.received_at` when the body leaves it out (BODY_ELIDED), otherwise null. */
  received_at: number | string | null;
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
  'received_at',
] as const;

/**
 * How a store reads the `source_id` of an events row aliased `alias`: a column on PostgreSQL, an
 * expression over the row's source key on SQLite (src/store/sqlite/source-keys.ts).
 */
export type SourceIdSql = (alias?: string) => string;

const sourceIdColumn: SourceIdSql = (alias) => (alias ? `${alias}.source_id` : 'source_id');

/** The column list reading an event selects, from a table aliased `alias` (or unaliased). */
export function eventBodyColumns(alias?: string, sourceId: SourceIdSql = sourceIdColumn): string {
  return BODY_COLUMNS.map((c) =>
    c === 'source_id' ? `${sourceId(alias)} AS source_id` : alias ? `${alias}.${c}` : c,
  ).join(', ');
}

/**
 * The same columns but the body, unaliased, for a scan that reads the body only of the rows it keeps
 * (`CASE WHEN … THEN body END AS body` beside them) and passes over the others without reading theirs;
 * `sourceId` is the SQL that reads the source id.
 */
export function eventColumnsButBody(sourceId = sourceIdColumn()): string {
  return BODY_COLUMNS.filter((c) => c !== 'body')
    .map((c) => (c === 'source_id' ? `${sourceId} AS source_id` : c))
    .join(', ');
}

/**
 * The same columns, each named `ev_<column>`, for a select that also reads another table's columns of
 * the same names (a delivery joined to its event); `joinedEventJson` reads them back.
 */
export function joinedEventColumns(alias: string, sourceId: SourceIdSql = sourceIdColumn): string {
  return BODY_COLUMNS.map((c) => `${c === 'source_id' ? sourceId(alias) : `${alias}.${c}`} AS ev_${c}`).join(
    ', ',
  );
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
  /** What `events.body`, `events.body_format` and `events.received_at` hold. */
  body: string;
  format: number;
  receivedAt: number | null;
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

/** What the `body`, `body_format` and `received_at` columns of the event's row hold. */
export function storedBody(event: CanonicalEvent): Omit<Stored, 'json'> {
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
  return { json, body: json, format: BODY_WHOLE, receivedAt: null };
}

/**
 * A string a TEXT column gives back as it was given: both stores turn a lone UTF-16 surrogate into
 * U+FFFD, where the JSON body keeps it as an escape.
 */
const isColumnString = (value: unknown): value is string => typeof value === 'string' && value.isWellFormed();
const isNullableString = (value: unknown): value is string | null => value === null || isColumnString(value);

/** The millisecond ISO timestamp `value` is, as Unix ms; null for anything else. */
function msTimestamp(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const at = Date.parse(value);
  return !Number.isNaN(at) && new Date(at).toISOString() === value ? at : null;
}

/**
 * The lean form, when the columns give back exactly what the event holds: canonical data (no own-type
 * `toJSON`) whose four column fields are present as well-formed strings or null, and a timestamp in
 * the millisecond ISO form `occurred_at` turns back into. Fields at their usual value are elided
 * (BODY_ELIDED).
 */
function leanForm(event: CanonicalEvent): Stored | null {
  const data = event.data as unknown as Record<string, unknown>;
  if (data === null || typeof data !== 'object' || Array.isArray(data) || 'toJSON' in data) return null;
  const { provider, source_id, message_id, recipient } = data;
  if (!isColumnString(source_id) || !isNullableString(provider)) return null;
  if (!isNullableString(message_id) || !isNullableString(recipient)) return null;
  if (!isColumnString(event.id) || !isColumnString(event.type)) return null;
  if (msTimestamp(event.timestamp) === null) return null;
  let mask = 0;
  let receivedAt: number | null = null;
  // The other fields in one pass, in the data's own order, into a new object: deleting the elided
  // ones from a copy instead left a dictionary-mode object that was slow to build and serialize.
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(data)) {
    if (key === 'provider' || key === 'source_id' || key === 'message_id' || key === 'recipient') continue;
    // An own `__proto__` would not be copied by assignment; no canonical event has one.
    if (key === '__proto__') return null;
    const value = data[key];
    const bit = ELIDED_BIT.get(key);
    if (bit !== undefined) {
      const usual = ELIDED[bit]?.[1];
      if (usual === null) {
        // received_at has no usual text: it is left out whenever its column can hold it.
        const at = msTimestamp(value);
        if (at !== null) {
          receivedAt = at;
          mask |= 1 << bit;
          continue;
        }
      } else if (JSON.stringify(value) === usual) {
        mask |= 1 << bit;
        continue;
      }
    }
    rest[key] = value;
  }
  const whole = JSON.stringify(rest);
  const columns = { provider, source_id, message_id, recipient, receivedAt };
  const json = compose(event.id, event.type, event.timestamp, columns, mask, whole);
  let body = whole;
  for (let i = 0; i < REFERENCED.length; i++) {
    const [key, marker] = REFERENCED[i] as (typeof REFERENCED)[number];
    const value = columns[key];
    if (value === null) continue;
    const text = JSON.stringify(value);
    const at = body.indexOf(text);
    if (at === -1) continue;
    body = body.slice(0, at) + marker + body.slice(at + text.length);
    mask |= 1 << (ELIDED.length + i);
  }
  return { json, body, format: mask === 0 ? BODY_LEAN : BODY_ELIDED + mask, receivedAt };
}

/** `body` with the column values it holds by reference (REFERENCED) put back. */
function dereferenced(body: string, mask: number, columns: ColumnFields): string {
  for (let i = 0; i < REFERENCED.length; i++) {
    if ((mask & (1 << (ELIDED.length + i))) === 0) continue;
    const [key, marker] = REFERENCED[i] as (typeof REFERENCED)[number];
    const at = body.indexOf(marker);
    // A marker the body lacks would be a broken row; the body then reads as it is stored.
    if (at !== -1) body = body.slice(0, at) + JSON.stringify(columns[key]) + body.slice(at + 1);
  }
  return body;
}

interface ColumnFields {
  provider: string | null;
  source_id: string;
  message_id: string | null;
  recipient: string | null;
  receivedAt: number | null;
}

function compose(
  id: string,
  type: string,
  timestamp: string,
  columns: ColumnFields,
  mask: number,
  rest: string,
): string {
  let head =
    `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(timestamp)},` +
    `"data":{"provider":${JSON.stringify(columns.provider)},"source_id":${JSON.stringify(columns.source_id)},` +
    `"message_id":${JSON.stringify(columns.message_id)},"recipient":${JSON.stringify(columns.recipient)}`;
  for (let bit = 0; mask > 0 && bit < ELIDED.length; bit++) {
    if ((mask & (1 << bit)) === 0) continue;
    const [key, usual] = ELIDED[bit] as (typeof ELIDED)[number];
    const value = usual ?? `"${new Date(Number(columns.receivedAt)).toISOString()}"`;
    head += `,"${key}":${value}`;
  }
  return rest === '{}' ? `${head}}}` : `${head},${rest.slice(1)}}`;
}

/** The JSON of a stored event, from its row (EventBodyRow's columns). */
export function eventJson(row: EventBodyRow): string {
  if (row.body_format === BODY_WHOLE) return row.body;
  const timestamp = new Date(Number(row.occurred_at)).toISOString();
  const receivedAt = row.received_at === null ? null : Number(row.received_at);
  const columns = { ...row, receivedAt };
  const mask = row.body_format >= BODY_ELIDED ? row.body_format - BODY_ELIDED : 0;
  return compose(
    idText(row.id, 'evt'),
    row.type,
    timestamp,
    columns,
    mask,
    dereferenced(row.body, mask, columns),
  );
}

/** A stored event, from its row. */
export function eventFromRow(row: EventBodyRow): CanonicalEvent {
  return JSON.parse(eventJson(row)) as CanonicalEvent;
}
