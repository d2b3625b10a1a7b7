import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpGet } from '../../../src/reconcile/types.js';

/**
 * A local stand-in for Mailgun's Events API (`GET /v3/{domain}/events`), answering in the documented
 * shape: `{"items": [...], "paging": {"first", "last", "next", "previous"}}`, page URLs on the API's
 * own host (`…/v3/{domain}/events/{token}`), an empty page after the last one, and 401 "Forbidden"
 * unless the request carries HTTP basic auth `api:<key>`.
 */

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export class FakeMailgunEventsApi {
  readonly requests: RecordedRequest[] = [];
  /** Each page's items as JSON text, so a test controls the exact bytes Mailgun would send. */
  pages: string[][] = [];
  /** Where page URLs point (default: this server), to play an API that sends its next URL elsewhere. */
  pageOrigin: string | null = null;
  private readonly canned: CannedAnswer[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly domain: string,
  ) {}

  static async start(opts: { apiKey: string; domain: string }): Promise<FakeMailgunEventsApi> {
    let api: FakeMailgunEventsApi | null = null;
    const server = createServer((req, res) => api?.answer(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    api = new FakeMailgunEventsApi(server, `http://127.0.0.1:${port}`, opts.apiKey, opts.domain);
    return api;
  }

  /** The next requests get these answers, in order, before any paging happens. */
  answerWith(...answers: CannedAnswer[]): void {
    this.canned.push(...answers);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pageUrl(page: number): string {
    return `${this.pageOrigin ?? this.baseUrl}/v3/${this.domain}/events/page-${page}`;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.baseUrl);
    this.requests.push({
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
    });
    const { status, headers, body } = this.canned.shift() ?? this.route(url, req.headers.authorization);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  }

  private route(url: URL, authorization: string | undefined): CannedAnswer {
    const expected = `Basic ${Buffer.from(`api:${this.apiKey}`).toString('base64')}`;
    if (authorization !== expected) {
      return { status: 401, headers: { 'content-type': 'text/plain' }, body: 'Forbidden' };
    }
    const prefix = `/v3/${this.domain}/events`;
    let page: number;
    if (url.pathname === prefix) page = 0;
    else if (url.pathname.startsWith(`${prefix}/page-`)) page = Number(url.pathname.slice(prefix.length + 6));
    else return { status: 404, body: JSON.stringify({ message: 'Not Found' }) };
    const items = this.pages[page] ?? [];
    const paging = {
      first: this.pageUrl(0),
      last: this.pageUrl(Math.max(0, this.pages.length - 1)),
      next: this.pageUrl(page + 1),
      previous: this.pageUrl(Math.max(0, page - 1)),
    };
    return { status: 200, body: `{"items":[${items.join(',')}],"paging":${JSON.stringify(paging)}}` };
  }
}

/** HttpGet over the real network stack (fetch), for requests to the fake on 127.0.0.1. */
export const fetchGet: HttpGet = async (url, headers) => {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
};
