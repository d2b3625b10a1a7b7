import type { ParsedEvent } from '../events.js';

/**
 * Reconciliation reads the events a provider keeps behind its own query API, for the gaps its
 * webhooks left (mailhook down longer than the provider retries, a webhook deleted by mistake). Each
 * reader maps an API item to exactly the event its webhook would have produced — same type, fields and
 * dedup key — so an event that arrives both ways is stored once and delivered once.
 */

/** The API credentials a source holds (write-only, like its webhook credentials). */
export interface ReaderConfig {
  apiKey: string;
  /** The provider's API root without a trailing slash (default: its public API; a region by setting it). */
  apiBaseUrl: string;
  /** Mailgun: the sending domain whose events are read. */
  domain?: string;
}

/** Events that happened in [since, until), by the provider's event time. */
export interface ReadWindow {
  since: Date;
  until: Date;
}

export interface ReaderPage {
  /** Events exactly as the provider's webhook adapter parses them (type, data, timestamp, dedup key). */
  events: ParsedEvent[];
  /** API items that are not email events mailhook knows (the adapter would skip them too). */
  skipped: number;
  /** Opaque position of the next page (a URL, a token…); null when the window has been read. */
  next: string | null;
}

export interface HttpAnswer {
  status: number;
  /** Lowercased names. */
  headers: Record<string, string>;
  text: string;
}

/** An HTTP GET, injected so tests point readers at local fake APIs. */
export type HttpGet = (url: string, headers: Record<string, string>) => Promise<HttpAnswer>;

export interface EventReader {
  provider: string;
  /** The provider's public API root (its default region). */
  defaultBaseUrl: string;
  /** How long the provider's API keeps events: a window reaching further back is clipped to it. */
  retentionMs: number;
  /**
   * The API fields of a source's config, checked and normalised (`api_key`, `api_base_url`, and
   * `domain` for Mailgun); the webhook fields are the adapter's. Throws MailhookError
   * MH_ERR_INVALID_SOURCE_CONFIG. Returns {} when no API field is set (reconciliation off).
   */
  validateConfig(config: Record<string, unknown>): Record<string, unknown>;
  /**
   * Reads one page of the window: `cursor` null for the first, else the `next` of the page before.
   * Throws ReaderHttpError for an answer other than 2xx, ReaderFormatError for a body it cannot read.
   */
  readPage(input: {
    config: ReaderConfig;
    window: ReadWindow;
    cursor: string | null;
    get: HttpGet;
  }): Promise<ReaderPage>;
}

/** A non-2xx answer: 429 and 5xx are retried by the job (after `retryAfterMs` when the API gave one). */
export class ReaderHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'ReaderHttpError';
  }
}

/** A 2xx answer whose body is not what the provider documents. */
export class ReaderFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReaderFormatError';
  }
}

/** Seconds or an HTTP date, as `Retry-After` may carry either; null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: Date = new Date()): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}
