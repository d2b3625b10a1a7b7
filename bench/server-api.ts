import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecret } from '../src/delivery/sign.js';
import { keys } from './ingest.js';
import { startTarget, stopTarget, type Target, waitUntil } from './procs.js';

/**
 * The whole mailhook server (targets/mailhook-server.ts) and the receiver process, driven only
 * through their HTTP APIs: sources, endpoints, pause/resume, the inbox, events. Control traffic uses
 * global fetch; it is never on a measured path.
 */
const API_KEY = 'bench-admin-key-0123456789abcdef';

export interface ReceiverStats {
  count: number;
  slowCount: number;
  firstAt: number;
  lastAt: number;
  steadyRate: number;
  countSince: number;
  latencyMs: { count: number; missing: number; p50: number; p99: number; max: number };
}

export interface Receiver {
  target: Target;
  fast: string[];
  slow: string[];
  reset(latency?: boolean): Promise<void>;
  /**
   * `since`/`until`: the window `countSince` counts arrivals in; `sentSince`: the latencies are of
   * the events sent from then on (the measured window, without the load's warm-up).
   */
  stats(since?: number, until?: number, sentSince?: number): Promise<ReceiverStats>;
}

export async function startReceiver(fast: number, slow = 0, slowMs = 2000): Promise<Receiver> {
  const target = await startTarget('receiver.js', { fast, slow, slowMs });
  const info = target.info as { fast: string[]; slow: string[] };
  return {
    target,
    fast: info.fast,
    slow: info.slow,
    async reset(latency = false) {
      await (
        await fetch(`${target.url}/reset${latency ? '?latency=1' : ''}`, { method: 'POST' })
      ).arrayBuffer();
    },
    async stats(since = 0, until = 0, sentSince = 0) {
      const res = await fetch(`${target.url}/stats?since=${since}&until=${until}&sentSince=${sentSince}`);
      return (await res.json()) as ReceiverStats;
    },
  };
}

export interface Server {
  target: Target;
  /** The SendGrid source's (ECDSA-signed posts with `keys.privateKeyPem`). */
  ingestUrl: string;
  /** The Postmark source's (basic auth with `keys.basicAuth`). */
  postmarkIngestUrl: string;
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Endpoints created so far, with their signing secret. */
  endpoints: { id: string; url: string }[];
  secret: string;
  addEndpoints(urls: string[], paused: boolean): Promise<void>;
  pauseAll(): Promise<void>;
  resumeAll(): Promise<void>;
  /** True once the pipeline has no pending inbox row. */
  waitPipelineDrained(timeoutMs: number): Promise<boolean>;
  /**
   * `mailhook_pipeline_thread_busy_seconds_total` from /metrics: the busy time of the thread that
   * runs SQLite's one writer and the delivery worker.
   */
  pipelineBusySeconds(): Promise<number>;
  /** Writes up to `limit` stored events as delivered bodies (`{id, body}`) to a file; returns its path. */
  writeBodies(limit: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startServer(
  options: { databaseUrl?: string; env?: Record<string, string> } = {},
): Promise<Server> {
  const target = await startTarget('mailhook-server.js', { apiKey: API_KEY, ...options });
  const tmp = mkdtempSync(join(tmpdir(), 'mailhook-bench-bodies-'));
  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }
  const source = await api<{ id: string; ingest_url: string }>('POST', '/v1/sources', {
    name: 'bench',
    provider: 'sendgrid',
    config: { public_key: keys.publicKeyDer },
  });
  const [username = '', password = ''] = keys.basicAuth.split(':');
  const postmark = await api<{ id: string }>('POST', '/v1/sources', {
    name: 'bench-postmark',
    provider: 'postmark',
    config: { basic_auth: { username, password } },
  });
  const secret = generateSecret();
  const endpoints: { id: string; url: string }[] = [];
  const server: Server = {
    target,
    ingestUrl: `${target.url}/ingest/${source.id}`,
    postmarkIngestUrl: `${target.url}/ingest/${postmark.id}`,
    api,
    endpoints,
    secret,
    async addEndpoints(urls, paused) {
      for (const url of urls) {
        const created = await api<{ id: string }>('POST', '/v1/endpoints', {
          url,
          secret,
          ...(paused && { status: 'paused' }),
        });
        endpoints.push({ id: created.id, url });
      }
    },
    async pauseAll() {
      await Promise.all(endpoints.map((e) => api('POST', `/v1/endpoints/${e.id}/pause`)));
    },
    async resumeAll() {
      await Promise.all(endpoints.map((e) => api('POST', `/v1/endpoints/${e.id}/resume`)));
    },
    waitPipelineDrained(timeoutMs) {
      return waitUntil(async () => {
        const page = await api<{ data: unknown[] }>('GET', '/v1/inbox?status=pending&limit=1');
        return page.data.length === 0;
      }, timeoutMs);
    },
    async pipelineBusySeconds() {
      const res = await fetch(`${target.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const line = /^mailhook_pipeline_thread_busy_seconds_total (\S+)$/m.exec(await res.text());
      if (!line) throw new Error('/metrics has no mailhook_pipeline_thread_busy_seconds_total');
      return Number(line[1]);
    },
    async writeBodies(limit) {
      const page = await api<{ data: { id: string }[] }>('GET', `/v1/events?limit=${Math.min(500, limit)}`);
      const file = join(tmp, 'bodies.json');
      writeFileSync(
        file,
        JSON.stringify(page.data.map((event) => ({ id: event.id, body: JSON.stringify(event) }))),
      );
      return file;
    },
    async stop() {
      await stopTarget(target);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  return server;
}
