import { request } from 'undici';

/** The HTTP layer of the typed client: base URL, Bearer key, JSON in and out, coded errors. */

/** The server answered with an error: `code` is its stable `MH_ERR_…` code. */
export class MailhookApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'MailhookApiError';
    this.status = status;
    this.code = code;
  }
}

/** The server could not be reached at all (refused, reset, timed out, bad URL). */
export class MailhookConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailhookConnectionError';
  }
}

export interface TransportOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** An API key (`mh_…`); sent as `Authorization: Bearer`. */
  apiKey?: string | undefined;
  /** Per request, for headers and for the body alike (default 30 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  /** Query parameters; undefined, null and empty values are left out. */
  query?: object | undefined;
  body?: unknown;
  headers?: Record<string, string>;
  /** Return the body as text instead of parsing JSON (CSV exports). */
  text?: boolean;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function queryString(query: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {}) as Array<[string, unknown]>) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export class Transport {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: TransportOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** One request; 2xx → the parsed body (undefined when empty), anything else → MailhookApiError. */
  async call<T>(method: Method, path: string, options: CallOptions = {}): Promise<T> {
    const url = `${this.baseUrl}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(url, {
        method,
        headers,
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new MailhookConnectionError(
        `cannot reach mailhook at ${this.baseUrl}: ${code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    const text = await response.body.text();
    if (response.statusCode >= 200 && response.statusCode < 300) {
      if (options.text) return text as T;
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
    throw apiErrorFrom(response.statusCode, text);
  }
}

/** The error for a non-2xx answer: mailhook's `{code, message}` when the body is one, else its text. */
export function apiErrorFrom(status: number, text: string): MailhookApiError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 500) || `HTTP ${status}`;
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON (a proxy's error page): keep the text
  }
  return new MailhookApiError(status, code, message);
}
