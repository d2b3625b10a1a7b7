import { MailhookError } from '../errors.js';
import type { ParsedEvent } from '../events.js';
import { parseJsonLossless } from '../providers/json.js';
import { isObject, parseCurrent } from '../providers/mailgun-events.js';
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
 * Mailgun's Events API, `GET /v3/{domain}/events`: the records behind the webhooks. A webhook's
 * `event-data` "is the same as described in" the Events API event structure, with the same `id`, so
 * each item goes through the webhook adapter's own mapping (parseCurrent) and gets the same type,
 * fields and dedup key (`<id>:<timestamp>`) as the webhook post of that event.
 *
 * Paging: the first page is built from the window (begin/end in epoch seconds, ascending); every page
 * carries `paging.next`, and the range has been read when a page comes back with no items. Details and
 * sources: docs/providers/mailgun.md, "Reconciliation (Events API)".
 */

const US_BASE_URL = 'https://api.mailgun.net';
/** Mailgun's documented maximum page size. */
const PAGE_LIMIT = 300;
/**
 * The shortest retention Mailgun documents: one day for free accounts (paid plans keep more). A
 * longer default would let a job report a window as read while Mailgun no longer held part of it.
 */
const RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Mailgun indexes events out of order and may insert one into a page already read; its polling
 * guide trusts a page only when its last event is older than about half an hour. A window ending
 * later than `now - MAILGUN_EVENTS_SETTLE_MS` may therefore miss events that show up afterwards:
 * reading it again later finds them (the dedup key stores each event once).
 */
export const MAILGUN_EVENTS_SETTLE_MS = 30 * 60 * 1000;

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

function invalid(message: string): MailhookError {
  return new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', `mailgun ${message}`);
}

function baseUrlOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return US_BASE_URL;
  const example = `(e.g. "${US_BASE_URL}", or "https://api.eu.mailgun.net" for EU domains)`;
  if (typeof value !== 'string') throw invalid(`config.api_base_url must be a URL string ${example}`);
  return apiBaseUrl('mailgun', value, example);
}

function validateConfig(config: Record<string, unknown>): Record<string, unknown> {
  const given = ['api_key', 'api_base_url', 'domain'].filter(
    (key) => config[key] !== undefined && config[key] !== null,
  );
  if (given.length === 0) return {};
  const key = config.api_key;
  if (typeof key !== 'string' || key.trim() === '') {
    throw invalid(
      'config.api_key is required with the other API fields: the private API key (Settings → API Keys)',
    );
  }
  if (/\s/.test(key.trim())) throw invalid('config.api_key must have no spaces');
  const domain = config.domain;
  if (typeof domain !== 'string' || !HOSTNAME.test(domain.trim().toLowerCase())) {
    throw invalid('config.domain must be the sending domain whose events are read (e.g. "mg.example.com")');
  }
  return {
    api_key: key.trim(),
    api_base_url: baseUrlOf(config.api_base_url),
    domain: domain.trim().toLowerCase(),
  };
}

function firstPageUrl(config: ReaderConfig, window: ReadWindow): string {
  if (!config.domain) throw invalid('reconciliation needs config.domain');
  const query = new URLSearchParams({
    // Whole seconds that cover the window; items outside it are dropped below.
    begin: String(Math.floor(window.since.getTime() / 1000)),
    end: String(Math.ceil(window.until.getTime() / 1000)),
    ascending: 'yes',
    limit: String(PAGE_LIMIT),
  });
  return `${config.apiBaseUrl}/v3/${encodeURIComponent(config.domain)}/events?${query}`;
}

/**
 * A page URL is followed only on the configured API's origin: the API key goes with every request,
 * and a `next` pointing anywhere else (or a stored cursor altered since) must not receive it.
 */
function checkedPageUrl(candidate: string, config: ReaderConfig): string {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new ReaderFormatError('Mailgun paging URL is not a URL');
  }
  const origin = new URL(config.apiBaseUrl).origin;
  if (url.origin !== origin) {
    throw new ReaderFormatError(`Mailgun paging URL is on ${url.origin}, not the configured API ${origin}`);
  }
  return url.href;
}

function authorization(apiKey: string): string {
  return `Basic ${Buffer.from(`api:${apiKey}`, 'utf8').toString('base64')}`;
}

/** Mailgun's error bodies are `{"message": …}`; its documented rate-limit body is `{"retry-seconds": N}`. */
function httpError(answer: HttpAnswer): ReaderHttpError {
  let body: unknown = null;
  try {
    body = JSON.parse(answer.text);
  } catch {
    // Not JSON ("Forbidden" on a wrong key): the status says enough.
  }
  const message = isObject(body) && typeof body.message === 'string' ? `: ${body.message.slice(0, 200)}` : '';
  let wait = retryAfterMs(answer.headers['retry-after']);
  const seconds = isObject(body) ? body['retry-seconds'] : undefined;
  if (wait === null && typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) {
    wait = Math.round(seconds * 1000);
  }
  return new ReaderHttpError(answer.status, wait, `Mailgun Events API answered ${answer.status}${message}`);
}

interface EventsBody {
  items: unknown[];
  next: string | null;
}

function bodyOf(text: string): EventsBody {
  let body: unknown;
  try {
    // The webhook adapter parses losslessly (integers beyond 2^53 kept as strings): so must this.
    body = parseJsonLossless(text);
  } catch {
    throw new ReaderFormatError('Mailgun Events API answered with a body that is not JSON');
  }
  if (!isObject(body) || !Array.isArray(body.items)) {
    throw new ReaderFormatError('Mailgun Events API answer has no "items" list');
  }
  const paging = isObject(body.paging) ? body.paging : {};
  const next = typeof paging.next === 'string' && paging.next !== '' ? paging.next : null;
  return { items: body.items, next };
}

/** Event time in ms as the adapter rounds it, or null when the item has none it could read. */
function itemTimeMs(item: Record<string, unknown>): number | null {
  const value = item.timestamp;
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : null;
  return text !== null && /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : null;
}

function mapItems(items: unknown[], window: ReadWindow): { events: ParsedEvent[]; skipped: number } {
  const events: ParsedEvent[] = [];
  let skipped = 0;
  const since = window.since.getTime();
  const until = window.until.getTime();
  items.forEach((item, index) => {
    if (!isObject(item)) throw new ReaderFormatError(`Mailgun Events API item ${index} is not an object`);
    const at = itemTimeMs(item);
    // Begin/end were widened to whole seconds: what falls outside the window belongs to another one.
    if (at !== null && (at < since || at >= until)) return;
    let result: ReturnType<typeof parseCurrent>;
    try {
      result = parseCurrent({ 'event-data': item });
    } catch (err) {
      // Mailgun documents event, timestamp and id on every record: one without them means the API
      // changed shape, better reported than read past.
      const reason = err instanceof Error ? err.message : String(err);
      throw new ReaderFormatError(`Mailgun Events API item ${index} cannot be read: ${reason}`);
    }
    events.push(...result.events);
    skipped += result.skipped.length;
  });
  return { events, skipped };
}

async function readPage(input: {
  config: ReaderConfig;
  window: ReadWindow;
  cursor: string | null;
  get: HttpGet;
}): Promise<ReaderPage> {
  const { config, window, cursor, get } = input;
  if (cursor === null && window.until.getTime() <= window.since.getTime()) {
    return { events: [], skipped: 0, next: null };
  }
  const url = cursor === null ? firstPageUrl(config, window) : checkedPageUrl(cursor, config);
  const answer = await get(url, { authorization: authorization(config.apiKey), accept: 'application/json' });
  if (answer.status < 200 || answer.status > 299) throw httpError(answer);
  const body = bodyOf(answer.text);
  // "Keep requesting the next page URLs … until an empty result page is reached."
  if (body.items.length === 0) return { events: [], skipped: 0, next: null };
  if (body.next === null) throw new ReaderFormatError('Mailgun Events API page has items but no paging.next');
  const next = checkedPageUrl(body.next, config);
  if (next === url) throw new ReaderFormatError('Mailgun Events API page points to itself as the next page');
  return { ...mapItems(body.items, window), next };
}

export const mailgunReader: EventReader = {
  provider: 'mailgun',
  defaultBaseUrl: US_BASE_URL,
  retentionMs: RETENTION_MS,
  validateConfig,
  readPage,
};
