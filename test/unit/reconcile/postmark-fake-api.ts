import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJsonLossless } from '../../../src/providers/json.js';
import { parseIsoInstant } from '../../../src/providers/postmark.js';
import { easternDateTime } from '../../../src/reconcile/postmark.js';

/**
 * A local stand-in for the Postmark API parts the reader uses, answering in the documented shapes:
 *
 * - `GET /bounces?count&offset&fromdate&todate` → `{"TotalCount", "Bounces": [...]}`, newest first,
 *   `fromdate`/`todate` read as Eastern wall-clock times, both inclusive;
 * - `GET /messages/outbound/opens|clicks?count&offset` → `{"TotalCount", "Opens"|"Clicks": [...]}`,
 *   newest first (no date filter);
 * - `GET /messages/outbound/{id}/details` → the message, or 422 `{"ErrorCode": 701}` when unknown;
 * - 401 `{"ErrorCode": 10, …}` without the right `X-Postmark-Server-Token`; 422 when count > 500 or
 *   count + offset > 10,000.
 *
 * Items are kept as JSON text so a test controls the exact bytes (bounce IDs beyond 2^53 included).
 */

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  token: string | undefined;
}

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

interface Stored {
  text: string;
  at: number;
}

/** An Eastern wall-clock time to the instant, as Postmark reads its date filters (EDT or EST, whichever fits). */
function easternToMs(local: string): number {
  const asUtc = Date.parse(`${local}Z`);
  for (const hours of [4, 5]) {
    const candidate = asUtc + hours * 3_600_000;
    if (easternDateTime(candidate) === local) return candidate;
  }
  return asUtc + 5 * 3_600_000;
}

function timeOf(text: string, field: string): number {
  const item = parseJsonLossless(text) as Record<string, unknown>;
  const at = parseIsoInstant(String(item[field]));
  if (at === null) throw new Error(`fake Postmark item without ${field}: ${text}`);
  return at.getTime();
}

export class FakePostmarkApi {
  readonly requests: RecordedRequest[] = [];
  private readonly bounces: Stored[] = [];
  private readonly opens: Stored[] = [];
  private readonly clicks: Stored[] = [];
  private readonly messages = new Map<string, string>();
  private readonly canned: CannedAnswer[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static async start(opts: { token: string }): Promise<FakePostmarkApi> {
    let api: FakePostmarkApi | null = null;
    const server = createServer((req, res) => api?.answer(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    api = new FakePostmarkApi(server, `http://127.0.0.1:${port}`, opts.token);
    return api;
  }

  addBounce(text: string): void {
    this.bounces.push({ text, at: timeOf(text, 'BouncedAt') });
  }

  addOpen(text: string): void {
    this.opens.push({ text, at: timeOf(text, 'ReceivedAt') });
  }

  addClick(text: string): void {
    this.clicks.push({ text, at: timeOf(text, 'ReceivedAt') });
  }

  /** The details of a sent message (Metadata, Tag, MessageStream…), by its MessageID. */
  addMessage(messageId: string, details: Record<string, unknown>): void {
    this.messages.set(messageId, JSON.stringify({ MessageID: messageId, ...details }));
  }

  /** The next requests get these answers, in order. */
  answerWith(...answers: CannedAnswer[]): void {
    this.canned.push(...answers);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const token = req.headers['x-postmark-server-token'];
    this.requests.push({
      path: url.pathname,
      query: url.searchParams,
      token: typeof token === 'string' ? token : undefined,
    });
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(body);
    };
    const canned = this.canned.shift();
    if (canned) return send(canned.status, canned.body, canned.headers);
    if (token !== this.token) {
      return send(401, JSON.stringify({ ErrorCode: 10, Message: 'Bad or missing Server API token.' }));
    }
    const details = /^\/messages\/outbound\/([^/]+)\/details$/.exec(url.pathname);
    if (details) {
      const message = this.messages.get(decodeURIComponent(details[1] ?? ''));
      if (message === undefined)
        return send(422, JSON.stringify({ ErrorCode: 701, Message: 'This message was not found.' }));
      return send(200, message);
    }
    const count = Number(url.searchParams.get('count'));
    const offset = Number(url.searchParams.get('offset'));
    if (!Number.isInteger(count) || !Number.isInteger(offset) || count < 1 || count > 500 || offset < 0) {
      return send(
        422,
        JSON.stringify({ ErrorCode: 0, Message: 'count and offset are required; count at most 500.' }),
      );
    }
    if (count + offset > 10_000) {
      return send(422, JSON.stringify({ ErrorCode: 0, Message: 'Count + Offset cannot exceed 10,000.' }));
    }
    let list: Stored[];
    let field: string;
    if (url.pathname === '/bounces') {
      const from = url.searchParams.get('fromdate');
      const to = url.searchParams.get('todate');
      const fromMs = from === null ? -Infinity : easternToMs(from);
      const toMs = to === null ? Infinity : easternToMs(to);
      list = this.bounces.filter((b) => b.at >= fromMs && b.at <= toMs);
      field = 'Bounces';
    } else if (url.pathname === '/messages/outbound/opens') {
      list = this.opens;
      field = 'Opens';
    } else if (url.pathname === '/messages/outbound/clicks') {
      list = this.clicks;
      field = 'Clicks';
    } else {
      return send(404, JSON.stringify({ ErrorCode: 0, Message: 'Not found.' }));
    }
    const sorted = [...list].sort((a, b) => b.at - a.at);
    const page = sorted.slice(offset, offset + count).map((s) => s.text);
    send(200, `{"TotalCount":${sorted.length},"${field}":[${page.join(',')}]}`);
  }
}

/** HttpGet over the real network stack (fetch), for requests to the fake on 127.0.0.1. */
export async function fetchGet(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}
