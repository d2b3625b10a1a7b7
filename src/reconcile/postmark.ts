import { MailhookError } from '../errors.js';
import type { ParsedEvent } from '../events.js';
import { parseJsonLossless } from '../providers/json.js';
import { parseIsoInstant, parseRecord } from '../providers/postmark.js';
import { apiBaseUrl } from './api-base-url.js';
import {
  type EventReader,
  type HttpAnswer,
  type HttpGet,
  type ReaderConfig,
  ReaderFormatError,
  ReaderHttpError,
  type ReaderPage,
  type ReadWindow,
  retryAfterMs,
} from './types.js';

/**
 * Postmark's query APIs, for the Bounce, SpamComplaint, Open and Click records its webhooks post.
 * Each API item is rebuilt into the record its webhook would have carried and mapped by the webhook
 * adapter's own parseRecord, so type, fields and dedup key are the webhook's:
 *
 * - `GET /bounces` (bounces and spam complaints, with the same bounce `ID` as the webhook) — read by
 *   `fromdate`/`todate` slices of the window, split in halves while a slice holds more than the
 *   10,000 records a search can page through;
 * - `GET /messages/outbound/clicks` and `/messages/outbound/opens` — no date filter, newest first:
 *   read from the newest until the items are older than the window;
 * - `GET /messages/outbound/{id}/details` — the send's Metadata (and Tag, stream), which the three
 *   lists do not carry but every webhook record does.
 *
 * Delivery and SubscriptionChange records are not read: the API cannot rebuild their dedup keys.
 * Details and sources: docs/providers/postmark.md, "Reconciliation (API)".
 */

const BASE_URL = 'https://api.postmarkapp.com';
/** Postmark's documented maximum `count`. */
const PAGE = 500;
/** "Count + Offset cannot exceed 10,000" (messages and bounces searches). */
const OFFSET_LIMIT = 10_000;
/** Postmark's default retention; accounts can set 7 to 365 days. */
const RETENTION_MS = 45 * 24 * 60 * 60 * 1000;
/** A bounce slice is not split below this: the date parameters have whole-second resolution. */
const MIN_SLICE_MS = 60_000;
const EASTERN = 'America/New_York';

/** A window Postmark's lists cannot reach to the end of: thrown after the part that could be read. */
export class PostmarkReadLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PostmarkReadLimitError';
  }
}

type Item = Record<string, unknown>;

function isObject(value: unknown): value is Item {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(message: string): MailhookError {
  return new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', `postmark ${message}`);
}

function baseUrlOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return BASE_URL;
  const example = `(e.g. "${BASE_URL}")`;
  if (typeof value !== 'string') throw invalid(`config.api_base_url must be a URL string ${example}`);
  return apiBaseUrl('postmark', value, example);
}

function validateConfig(config: Record<string, unknown>): Record<string, unknown> {
  const given = ['api_key', 'api_base_url'].filter(
    (key) => config[key] !== undefined && config[key] !== null,
  );
  if (given.length === 0) return {};
  const key = config.api_key;
  if (typeof key !== 'string' || key.trim() === '') {
    throw invalid(
      'config.api_key is required with the other API fields: the server API token (Servers → your server → API Tokens)',
    );
  }
  if (/\s/.test(key.trim())) throw invalid('config.api_key must have no spaces');
  return { api_key: key.trim(), api_base_url: baseUrlOf(config.api_base_url) };
}

// ---------------------------------------------------------------------------------------------------
// Time: Eastern query parameters, and the webhook's spelling of an API time.

const easternParts = new Intl.DateTimeFormat('en-US', {
  timeZone: EASTERN,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** `2019-11-05T11:33:54`: the instant's wall-clock time in Eastern Time, as Postmark's date filters take it. */
export function easternDateTime(ms: number): string {
  const parts = Object.fromEntries(easternParts.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

function easternOffsetMinutes(ms: number): number {
  const local = easternDateTime(ms);
  return Math.round((Date.parse(`${local}Z`) - Math.floor(ms / 1000) * 1000) / 60_000);
}

/**
 * How far a slice's bounds are widened before they become Eastern wall-clock times: one second for
 * the truncation to whole seconds, an hour near a DST change, where a wall-clock time is ambiguous
 * (or missing) and Postmark's reading of it is not documented. Items are filtered to the exact slice.
 */
function padMs(ms: number): number {
  return easternOffsetMinutes(ms - 3_600_000) === easternOffsetMinutes(ms + 3_600_000) ? 1000 : 3_600_000;
}

const ISO_100NS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * An API time (`2019-11-05T11:33:54.9070259-05:00`: Eastern, 7 fractional digits) as the webhook
 * writes the same instant (`2019-11-05T16:33:54.9070259Z`: UTC, trailing zeros of the fraction
 * dropped, no fraction when it is zero). The dedup key of an Open or Click hashes this string, so it
 * must be exact to the 100 ns; offsets are whole minutes and never touch the fraction. A time in
 * another shape is returned as it is (the adapter then refuses it).
 */
export function webhookTimeOf(text: string): string {
  const m = ISO_100NS.exec(text.trim());
  if (!m) return text;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = m;
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(seconds)) return text;
  const utc = new Date(seconds - offsetMin * 60_000).toISOString().slice(0, 19);
  const digits = fraction.replace(/0+$/, '');
  return `${utc}${digits === '' ? '' : `.${digits}`}Z`;
}

// ---------------------------------------------------------------------------------------------------
// Cursor: which list, which slice, which offset.

type Cursor =
  | { list: 'bounces'; from: number; to: number; offset: number }
  | { list: 'clicks' | 'opens'; offset: number };

function encodeCursor(cursor: Cursor): string {
  return JSON.stringify(cursor);
}

function decodeCursor(text: string, window: ReadWindow): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  const until = window.until.getTime();
  if (isObject(value) && Number.isSafeInteger(value.offset) && (value.offset as number) >= 0) {
    const offset = value.offset as number;
    if (value.list === 'clicks' || value.list === 'opens') return { list: value.list, offset };
    const { from, to } = value;
    if (
      value.list === 'bounces' &&
      Number.isSafeInteger(from) &&
      Number.isSafeInteger(to) &&
      (from as number) < (to as number) &&
      (to as number) <= until
    ) {
      return { list: 'bounces', from: from as number, to: to as number, offset };
    }
  }
  throw new Error(`not a Postmark reader cursor for this window: ${text.slice(0, 100)}`);
}

// ---------------------------------------------------------------------------------------------------
// HTTP.

/** Postmark's error bodies are `{"ErrorCode": n, "Message": "…"}` (401 on a bad token: ErrorCode 10). */
function httpError(answer: HttpAnswer, what: string): ReaderHttpError {
  let body: unknown = null;
  try {
    body = JSON.parse(answer.text);
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const detail =
    isObject(body) && (typeof body.Message === 'string' || body.ErrorCode !== undefined)
      ? ` (ErrorCode ${String(body.ErrorCode)}: ${String(body.Message ?? '').slice(0, 200)})`
      : '';
  return new ReaderHttpError(
    answer.status,
    retryAfterMs(answer.headers['retry-after']),
    `Postmark ${what} answered ${answer.status}${detail}`,
  );
}

async function getJson(
  get: HttpGet,
  config: ReaderConfig,
  path: string,
  what: string,
  query?: URLSearchParams,
): Promise<{ status: number; body: unknown; answer: HttpAnswer }> {
  const url = `${config.apiBaseUrl}${path}${query ? `?${query}` : ''}`;
  const answer = await get(url, { accept: 'application/json', 'x-postmark-server-token': config.apiKey });
  if (answer.status < 200 || answer.status > 299) return { status: answer.status, body: null, answer };
  try {
    // Bounce IDs exceed 2^53 (the documentation's own example does): parsed losslessly, as the adapter does.
    return { status: answer.status, body: parseJsonLossless(answer.text), answer };
  } catch {
    throw new ReaderFormatError(`Postmark ${what} answered with a body that is not JSON`);
  }
}

async function readList(
  get: HttpGet,
  config: ReaderConfig,
  path: string,
  field: 'Bounces' | 'Opens' | 'Clicks',
  query: URLSearchParams,
): Promise<{ total: number; items: Item[] }> {
  const what = `${path} API`;
  const { status, body, answer } = await getJson(get, config, path, what, query);
  if (status < 200 || status > 299) throw httpError(answer, what);
  if (!isObject(body) || !Array.isArray(body[field])) {
    throw new ReaderFormatError(`Postmark ${what} answer has no "${field}" list`);
  }
  const total = Number(body.TotalCount);
  if (!Number.isFinite(total) || total < 0) {
    throw new ReaderFormatError(`Postmark ${what} answer has no TotalCount`);
  }
  const items = body[field] as unknown[];
  items.forEach((item, index) => {
    if (!isObject(item)) throw new ReaderFormatError(`Postmark ${what} item ${index} is not an object`);
  });
  return { total, items: items as Item[] };
}

interface MessageFacts {
  metadata: Item;
  tag: unknown;
  stream: unknown;
}

/**
 * The send's Metadata, Tag and stream, from the message details. A message Postmark no longer has
 * (422, ErrorCode 701 "This message was not found") leaves the event without metadata.
 */
async function messageFacts(
  get: HttpGet,
  config: ReaderConfig,
  messageIds: string[],
): Promise<Map<string, MessageFacts | null>> {
  const facts = new Map<string, MessageFacts | null>();
  for (const id of messageIds) {
    const what = 'message details API';
    const { status, body, answer } = await getJson(
      get,
      config,
      `/messages/outbound/${encodeURIComponent(id)}/details`,
      what,
    );
    if (status === 422 || status === 404) {
      facts.set(id, null);
      continue;
    }
    if (status < 200 || status > 299) throw httpError(answer, what);
    if (!isObject(body)) throw new ReaderFormatError(`Postmark ${what} answer is not an object`);
    facts.set(id, {
      metadata: isObject(body.Metadata) ? body.Metadata : {},
      tag: body.Tag,
      stream: body.MessageStream,
    });
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------------
// Items to events.

type Kind = 'bounces' | 'clicks' | 'opens';

function timeOf(kind: Kind, item: Item): number | null {
  const text = kind === 'bounces' ? item.BouncedAt : item.ReceivedAt;
  const at = typeof text === 'string' ? parseIsoInstant(text) : null;
  return at === null ? null : at.getTime();
}

function recordTypeOf(kind: Kind, item: Item): string {
  if (kind === 'clicks') return 'Click';
  if (kind === 'opens') return 'Open';
  // Spam complaints are bounce records of type SpamComplaint (100001); their webhook is SpamComplaint.
  const spam = item.Type === 'SpamComplaint' || (item.Type === undefined && Number(item.TypeCode) === 100001);
  return spam ? 'SpamComplaint' : 'Bounce';
}

function messageIdOf(item: Item): string | null {
  const id = item.MessageID ?? item.MessageId;
  return typeof id === 'string' && id.trim() !== '' ? id : null;
}

async function toEvents(
  kind: Kind,
  items: Item[],
  slice: { from: number; to: number },
  get: HttpGet,
  config: ReaderConfig,
): Promise<{ events: ParsedEvent[]; skipped: number }> {
  const inside = items.filter((item, index) => {
    const at = timeOf(kind, item);
    if (at === null) {
      throw new ReaderFormatError(`Postmark ${kind} item ${index} has no ISO 8601 event time`);
    }
    return at >= slice.from && at < slice.to;
  });
  const ids = [...new Set(inside.map(messageIdOf).filter((id): id is string => id !== null))];
  const facts = await messageFacts(get, config, ids);
  const events: ParsedEvent[] = [];
  let skipped = 0;
  inside.forEach((item, index) => {
    const recordType = recordTypeOf(kind, item);
    const id = messageIdOf(item);
    const message = id === null ? null : (facts.get(id) ?? null);
    const record: Item = {
      ...item,
      RecordType: recordType,
      Metadata: message?.metadata ?? {},
      Tag: item.Tag ?? message?.tag,
      MessageStream: item.MessageStream ?? message?.stream,
    };
    if (kind !== 'bounces') record.ReceivedAt = webhookTimeOf(String(item.ReceivedAt));
    let result: ReturnType<typeof parseRecord>;
    try {
      result = parseRecord(record, index, recordType);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ReaderFormatError(`Postmark ${kind} item cannot be read: ${reason}`);
    }
    if ('reason' in result) {
      skipped++;
      return;
    }
    // raw keeps the provider's own object: the API item, not the record rebuilt from it.
    result.data.raw = item;
    events.push(result);
  });
  return { events, skipped };
}

// ---------------------------------------------------------------------------------------------------
// Pages.

const AFTER_BOUNCES: Cursor = { list: 'clicks', offset: 0 };

function nextList(list: 'clicks' | 'opens'): Cursor | null {
  return list === 'clicks' ? { list: 'opens', offset: 0 } : null;
}

async function bouncePage(
  cursor: Extract<Cursor, { list: 'bounces' }>,
  window: ReadWindow,
  get: HttpGet,
  config: ReaderConfig,
): Promise<ReaderPage> {
  const until = window.until.getTime();
  let { from, to, offset } = cursor;
  for (;;) {
    if (offset + PAGE > OFFSET_LIMIT) {
      throw new PostmarkReadLimitError(
        `Postmark holds more than ${OFFSET_LIMIT} bounces in the minute from ${new Date(from).toISOString()}, ` +
          'more than one search can page through: the rest of that minute cannot be read',
      );
    }
    const query = new URLSearchParams({
      count: String(PAGE),
      offset: String(offset),
      fromdate: easternDateTime(from - padMs(from)),
      todate: easternDateTime(to + padMs(to)),
    });
    const { total, items } = await readList(get, config, '/bounces', 'Bounces', query);
    if (total > OFFSET_LIMIT && to - from >= 2 * MIN_SLICE_MS) {
      // More than a search can page through: read the first half now, the rest as its own slice.
      to = from + Math.floor((to - from) / 2 / 1000) * 1000;
      offset = 0;
      continue;
    }
    const page = await toEvents('bounces', items, { from, to }, get, config);
    const sliceDone = items.length < PAGE || offset + PAGE >= total;
    let next: Cursor | null;
    if (!sliceDone) next = { list: 'bounces', from, to, offset: offset + PAGE };
    else if (to < until) next = { list: 'bounces', from: to, to: until, offset: 0 };
    else next = AFTER_BOUNCES;
    return { ...page, next: next === null ? null : encodeCursor(next) };
  }
}

async function trackingPage(
  cursor: Extract<Cursor, { list: 'clicks' | 'opens' }>,
  window: ReadWindow,
  get: HttpGet,
  config: ReaderConfig,
): Promise<ReaderPage> {
  const { list, offset } = cursor;
  if (offset + PAGE > OFFSET_LIMIT) {
    throw new PostmarkReadLimitError(
      `Postmark's ${list} list pages through its newest ${OFFSET_LIMIT} records only, and they all are ` +
        `later than ${window.since.toISOString()}: the start of the window cannot be read`,
    );
  }
  const path = `/messages/outbound/${list}`;
  const query = new URLSearchParams({ count: String(PAGE), offset: String(offset) });
  const { total, items } = await readList(get, config, path, list === 'clicks' ? 'Clicks' : 'Opens', query);
  const slice = { from: window.since.getTime(), to: window.until.getTime() };
  const page = await toEvents(list, items, slice, get, config);
  // Newest first: once an item is older than the window, everything after it is too.
  const last = items.at(-1);
  const lastAt = last === undefined ? null : timeOf(list, last);
  const done = items.length < PAGE || offset + PAGE >= total || (lastAt !== null && lastAt < slice.from);
  if (done) {
    const next = nextList(list);
    return { ...page, next: next === null ? null : encodeCursor(next) };
  }
  return { ...page, next: encodeCursor({ list, offset: offset + PAGE }) };
}

async function readPage(input: {
  config: ReaderConfig;
  window: ReadWindow;
  cursor: string | null;
  get: HttpGet;
}): Promise<ReaderPage> {
  const { config, window, cursor, get } = input;
  const since = window.since.getTime();
  const until = window.until.getTime();
  if (until <= since) return { events: [], skipped: 0, next: null };
  const at: Cursor =
    cursor === null ? { list: 'bounces', from: since, to: until, offset: 0 } : decodeCursor(cursor, window);
  return at.list === 'bounces' ? bouncePage(at, window, get, config) : trackingPage(at, window, get, config);
}

export const postmarkReader: EventReader = {
  provider: 'postmark',
  defaultBaseUrl: BASE_URL,
  retentionMs: RETENTION_MS,
  validateConfig,
  readPage,
};
