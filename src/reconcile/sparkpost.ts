import { MailhookError, MalformedPayloadError } from '../errors.js';
import type { ParsedEvent } from '../events.js';
import { parseJsonLossless } from '../providers/json.js';
import { parseElement } from '../providers/sparkpost.js';
import { apiBaseUrl } from './api-base-url.js';
import {
  type EventReader,
  ReaderFormatError,
  ReaderHttpError,
  type ReaderPage,
  retryAfterMs,
} from './types.js';

/**
 * SparkPost's Events API (`GET /api/v1/events/message`, https://developers.sparkpost.com/api/events/),
 * the successor of the Message Events API that SparkPost discontinued on 2019-10-01. It returns the
 * events its webhooks post, flat (`{"type": "delivery", "event_id": …}`) instead of wrapped in
 * `{"msys": {"<class>": …}}`, with the same `event_id`: SparkPost's own recovery advice is to download
 * the gap from this API and dedup on `event_id`
 * (https://support.sparkpost.com/docs/tech-resources/webhook-data-streams). Facts and sources:
 * docs/providers/sparkpost.md, "Reconciliation (Events API)".
 */

const DEFAULT_BASE_URL = 'https://api.sparkpost.com';
const EVENTS_PATH = '/api/v1/events/message';
/** "Data in the Events API is retained for 10 days." */
const RETENTION_MS = 10 * 24 * 60 * 60 * 1000;
/**
 * The documented maximum (default 1,000). Paging requests count against SparkPost's dynamic rate
 * limit like any other, so fewer, larger pages finish a long gap with fewer 429s.
 */
const PER_PAGE = 10_000;

/**
 * The webhook class each API `type` is posted under, so a wrapped API item is byte for byte the
 * element its webhook would have carried (`raw` included). Generation events use `gen_event`, as real
 * batches do. A type missing here is wrapped as a message_event and the adapter skips it by name.
 */
const WEBHOOK_CLASS: Readonly<Record<string, string>> = {
  injection: 'message_event',
  delivery: 'message_event',
  bounce: 'message_event',
  out_of_band: 'message_event',
  delay: 'message_event',
  policy_rejection: 'message_event',
  spam_complaint: 'message_event',
  sms_status: 'message_event',
  generation_failure: 'gen_event',
  generation_rejection: 'gen_event',
  open: 'track_event',
  initial_open: 'track_event',
  amp_open: 'track_event',
  amp_initial_open: 'track_event',
  click: 'track_event',
  amp_click: 'track_event',
  list_unsubscribe: 'unsubscribe_event',
  link_unsubscribe: 'unsubscribe_event',
  relay_injection: 'relay_event',
  relay_rejection: 'relay_event',
  relay_delivery: 'relay_event',
  relay_tempfail: 'relay_event',
  relay_permfail: 'relay_event',
  ab_test_completed: 'ab_test_event',
  ab_test_cancelled: 'ab_test_event',
};

function invalid(message: string): MailhookError {
  return new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', `sparkpost config.${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The API root: scheme, host and any proxy prefix, without a trailing slash. SparkPost documents its
 * bases as `https://api.sparkpost.com/api/v1`, so a pasted `/api/v1` is dropped rather than doubled.
 */
function normaliseBaseUrl(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid('api_base_url must be a non-empty string');
  const base = apiBaseUrl('sparkpost', value, '(e.g. https://api.eu.sparkpost.com)');
  return base.replace(/\/api\/v1$/, '');
}

function validateConfig(config: Record<string, unknown>): Record<string, unknown> {
  const { api_key: key, api_base_url: base } = config;
  // Silently dropping it would let a user believe the read is limited to one domain.
  if (config.domain !== undefined) throw invalid('domain is for Mailgun; SparkPost reads the whole account');
  if (key === undefined && base === undefined) return {};
  // Sent as the whole Authorization header value: anything but visible ASCII could split the header.
  if (typeof key !== 'string' || !/^[\x21-\x7e]+$/.test(key)) {
    throw invalid('api_key is required with api_base_url and must be a SparkPost API key');
  }
  return { api_key: key, api_base_url: base === undefined ? DEFAULT_BASE_URL : normaliseBaseUrl(base) };
}

/** `YYYY-MM-DDTHH:MM:ssZ`, the documented form (UTC, whole seconds). */
function apiTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/**
 * The API takes whole seconds (`from` inclusive, `to` exclusive); the window is widened to them and
 * the extra events are left out by their own timestamps.
 */
function firstPageUrl(base: string, since: Date, until: Date): string {
  const params = new URLSearchParams({
    from: apiTime(Math.floor(since.getTime() / 1000) * 1000),
    to: apiTime(Math.ceil(until.getTime() / 1000) * 1000),
    per_page: String(PER_PAGE),
    cursor: 'initial',
  });
  return `${base}${EVENTS_PATH}?${params.toString()}`;
}

/**
 * A page URL the API gave (`links.next`, documented as a path like `/api/v1/events/message?…&cursor=…`),
 * resolved against the configured base; null unless it stays on the base's origin, where the API key
 * may be sent.
 */
function pageUrlOnBase(link: string, base: string): string | null {
  let url: URL;
  try {
    url = new URL(link, `${base}/`);
  } catch {
    return null;
  }
  return url.origin === new URL(base).origin ? url.href : null;
}

/** SparkPost's `{"errors": [{"message", "description"}]}`, shortened, for the job's error. */
function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: Array<{ message?: unknown; description?: unknown }> };
    const first = body.errors?.[0];
    const parts = [first?.message, first?.description].filter((p): p is string => typeof p === 'string');
    if (parts.length > 0) return `: ${parts.join(' - ').slice(0, 300)}`;
  } catch {
    // Not SparkPost's error shape (a proxy's HTML page): the status says enough.
  }
  return '';
}

function readItems(results: unknown[], since: Date, until: Date): { events: ParsedEvent[]; skipped: number } {
  const events: ParsedEvent[] = [];
  let skipped = 0;
  results.forEach((item, index) => {
    if (!isObject(item) || typeof item.type !== 'string') {
      throw new ReaderFormatError(`SparkPost Events API results[${index}] is not an event with a "type"`);
    }
    const element = { msys: { [WEBHOOK_CLASS[item.type] ?? 'message_event']: item } };
    let parsed: ReturnType<typeof parseElement>;
    try {
      parsed = parseElement(element, index);
    } catch (err) {
      if (!(err instanceof MalformedPayloadError)) throw err;
      const id = typeof item.event_id === 'string' ? ` (event_id ${item.event_id})` : '';
      throw new ReaderFormatError(`SparkPost Events API results[${index}]${id}: ${err.message}`);
    }
    skipped += parsed.skipped.length;
    for (const event of parsed.events) {
      const at = event.timestamp.getTime();
      if (at >= since.getTime() && at < until.getTime()) events.push(event);
    }
  });
  return { events, skipped };
}

async function readPage(input: Parameters<EventReader['readPage']>[0]): Promise<ReaderPage> {
  const { config, window, cursor, get } = input;
  const base = normaliseBaseUrl(config.apiBaseUrl);
  let url = firstPageUrl(base, window.since, window.until);
  if (cursor !== null) {
    const resumed = pageUrlOnBase(cursor, base);
    if (resumed === null) {
      throw new ReaderFormatError(`SparkPost page ${cursor} is not on the configured API base ${base}`);
    }
    url = resumed;
  }
  const answer = await get(url, { authorization: config.apiKey, accept: 'application/json' });
  if (answer.status < 200 || answer.status > 299) {
    throw new ReaderHttpError(
      answer.status,
      retryAfterMs(answer.headers['retry-after']),
      `SparkPost Events API answered ${answer.status}${errorDetail(answer.text)}`,
    );
  }
  let body: unknown;
  try {
    body = parseJsonLossless(answer.text);
  } catch {
    throw new ReaderFormatError('SparkPost Events API answered with a body that is not JSON');
  }
  if (!isObject(body) || !Array.isArray(body.results)) {
    throw new ReaderFormatError('SparkPost Events API answer has no "results" array');
  }
  const links = body.links;
  if (links !== undefined && !isObject(links)) {
    throw new ReaderFormatError('SparkPost Events API answer has a "links" that is not an object');
  }
  const link = links?.next;
  let next: string | null = null;
  if (link !== undefined && link !== null) {
    if (typeof link !== 'string' || link === '') {
      throw new ReaderFormatError('SparkPost Events API "links.next" is not a URL');
    }
    next = pageUrlOnBase(link, base);
    if (next === null) {
      throw new ReaderFormatError(`SparkPost Events API "links.next" leaves the configured API base ${base}`);
    }
    // A next page equal to this one would read the same page forever.
    if (next === url)
      throw new ReaderFormatError('SparkPost Events API "links.next" repeats the page just read');
  }
  return { ...readItems(body.results, window.since, window.until), next };
}

export const sparkpostReader: EventReader = {
  provider: 'sparkpost',
  defaultBaseUrl: DEFAULT_BASE_URL,
  retentionMs: RETENTION_MS,
  validateConfig,
  readPage,
};
