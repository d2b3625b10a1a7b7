import { request } from 'undici';
import { apiErrorFrom } from '../client/http.js';
import { MailhookConnectionError } from '../client/index.js';

/**
 * A reader of `GET /v1/events/stream` (Server-Sent Events) for the CLI: one connection, its frames
 * as they arrive. Reconnecting with `Last-Event-ID` is the caller's (`mailhook events tail`).
 */

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** The reconnection delay the server asks for, in ms. */
  retry?: number;
}

const LINE_END = /\r\n|\r|\n/;

/** Splits text/event-stream text, fed in chunks as it arrives, into frames (the WHATWG rules). */
export class SseParser {
  private buffer = '';
  private frame: SseFrame = {};
  private data: string[] = [];
  /** The last chunk ended with \r: a \n opening the next one belongs to that line end. */
  private pendingCr = false;

  push(text: string): SseFrame[] {
    if (this.pendingCr && text !== '') {
      this.pendingCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    this.buffer += text;
    const frames: SseFrame[] = [];
    for (let match = LINE_END.exec(this.buffer); match; match = LINE_END.exec(this.buffer)) {
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (match[0] === '\r' && this.buffer === '') this.pendingCr = true;
      if (line === '') {
        if (this.data.length > 0) this.frame.data = this.data.join('\n');
        if (Object.keys(this.frame).length > 0) frames.push(this.frame);
        this.frame = {};
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.frame.event = value;
      else if (field === 'id' && !value.includes('\0')) this.frame.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.frame.retry = Number(value);
    }
    return frames;
  }
}

export interface StreamRequest {
  /** The server's base URL. */
  url: string;
  apiKey: string | undefined;
  query: Record<string, string | undefined>;
  lastEventId: string | undefined;
  signal: AbortSignal;
  /**
   * Silence after which the connection counts as lost. The server sends a heartbeat every 15 s, so
   * a peer that vanished without closing the connection is noticed.
   */
  idleTimeoutMs?: number;
}

/**
 * Opens the stream and yields its frames until the server ends it. Throws MailhookApiError when the
 * server refuses (401, 400…), MailhookConnectionError when it cannot be reached or the connection
 * breaks.
 */
export async function* readEventStream(options: StreamRequest): AsyncGenerator<SseFrame> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query)) if (value) params.set(name, value);
  const base = options.url.replace(/\/+$/, '');
  const url = `${base}/v1/events/stream${params.size > 0 ? `?${params}` : ''}`;
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const broken = (err: unknown) =>
    new MailhookConnectionError(
      `lost the event stream at ${base}: ${(err as { code?: string }).code ?? (err as Error).message}`,
      { cause: err },
    );
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: 'GET',
      headers,
      signal: options.signal,
      headersTimeout: 30_000,
      bodyTimeout: options.idleTimeoutMs ?? 45_000,
    });
  } catch (err) {
    if (options.signal.aborted) throw err;
    throw new MailhookConnectionError(
      `cannot reach mailhook at ${base}: ${(err as { code?: string }).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  if (response.statusCode !== 200) {
    const text = await response.body.text().catch(() => '');
    throw apiErrorFrom(response.statusCode, text);
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body) {
      yield* parser.push(decoder.decode(chunk as Buffer, { stream: true }));
    }
  } catch (err) {
    if (options.signal.aborted) throw err;
    throw broken(err);
  } finally {
    // Leaving early (a --count reached) must not leave the connection open.
    if (!response.body.destroyed) response.body.destroy();
  }
}
