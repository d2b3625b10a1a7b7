import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpGet } from '../../../src/reconcile/types.js';

/**
 * A local SparkPost Events API (`GET /api/v1/events/message`) shaped as
 * https://developers.sparkpost.com/api/events/ documents it: `from` (inclusive) and `to` (exclusive)
 * as `YYYY-MM-DDTHH:MM:ssZ`, `per_page`, `cursor` (`initial` first), and answers
 * `{"results": [...], "total_count": n, "links": {"next": "/api/v1/events/message?…&cursor=…"}}`
 * with `links` empty on the last page. A wrong Authorization gets SparkPost's 401 error body.
 */

export interface FakeRequest {
  url: URL;
  headers: IncomingMessage['headers'];
}

/** Overrides the documented behaviour for one request (error statuses, odd bodies). */
export type FakeOverride = (
  req: FakeRequest,
) => { status: number; headers?: Record<string, string>; body: string } | undefined;

export interface FakeSparkPost {
  baseUrl: string;
  /** Event objects as the API returns them (flat, with `type` and `timestamp`). */
  events: Array<Record<string, unknown>>;
  /** Results per page at most, whatever `per_page` asks (so a handful of events spans pages). */
  pageSize: number;
  requests: FakeRequest[];
  override: FakeOverride | undefined;
  close(): Promise<void>;
}

const API_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Unix seconds (webhook form) or ISO 8601 (the API's own samples). */
function eventTimeMs(value: unknown): number {
  const text = String(value);
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text);
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

export async function startFakeSparkPost(apiKey: string): Promise<FakeSparkPost> {
  const fake: FakeSparkPost = {
    baseUrl: '',
    events: [],
    pageSize: 1000,
    requests: [],
    override: undefined,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', fake.baseUrl);
    const request = { url, headers: req.headers };
    fake.requests.push(request);
    const special = fake.override?.(request);
    if (special) return send(res, special.status, special.body, special.headers);
    if (req.headers.authorization !== apiKey) {
      return send(res, 401, JSON.stringify({ errors: [{ message: 'Unauthorized.' }] }));
    }
    if (req.method !== 'GET' || url.pathname !== '/api/v1/events/message') {
      return send(res, 404, JSON.stringify({ errors: [{ message: 'resource not found' }] }));
    }
    const from = url.searchParams.get('from') ?? '';
    const to = url.searchParams.get('to') ?? '';
    if (!API_TIME.test(from) || !API_TIME.test(to)) {
      return send(res, 400, JSON.stringify({ errors: [{ message: 'invalid from/to', description: from }] }));
    }
    const matching = fake.events.filter((event) => {
      const at = eventTimeMs(event.timestamp);
      return at >= Date.parse(from) && at < Date.parse(to);
    });
    const cursor = url.searchParams.get('cursor') ?? 'initial';
    const offset = cursor === 'initial' ? 0 : Number(Buffer.from(cursor, 'base64').toString('utf8'));
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? '1000'), fake.pageSize);
    const results = matching.slice(offset, offset + perPage);
    const links: Record<string, string> = {};
    if (offset + perPage < matching.length) {
      const next = new URLSearchParams(url.searchParams);
      next.set('cursor', Buffer.from(String(offset + perPage)).toString('base64'));
      links.next = `/api/v1/events/message?${next.toString()}`;
    }
    send(res, 200, JSON.stringify({ results, total_count: matching.length, links }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  return fake;
}

/** The reader's HttpGet over real HTTP, as the job would inject it. */
export const httpGet: HttpGet = async (url, headers) => {
  const res = await fetch(url, { headers });
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return { status: res.status, headers: out, text: await res.text() };
};
