import { randomBytes, randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { createBenchDatabase } from './pg.js';
import { startTarget, stopTarget, waitUntil } from './procs.js';

/**
 * Disk per event (issue 16's target: at most 1 KB per 270-byte single-event post): `posts` Postmark
 * Delivery/Open/Click/Bounce posts of about 270 bytes, one event each, into the whole server with no
 * endpoint, until the pipeline has processed them; then SQLite's file after a checkpoint (WAL folded
 * in and truncated), or PostgreSQL's tables with their indexes and TOAST, divided by the posts.
 */

const API_KEY = 'bench-admin-key-0123456789abcdef';
const TYPES = ['Delivery', 'Open', 'Click', 'Bounce'] as const;

export interface DiskRun {
  store: 'sqlite' | 'postgres';
  posts: number;
  /** Mean body size of the posts. */
  bodyBytes: number;
  bytesPerEvent: number;
  /** SQLite: bytes per post of each table and index (from dbstat), largest first. */
  breakdown: Array<{ name: string; bytes: number }>;
}

/** A Postmark record of each type as Postmark documents it (test/fixtures/postmark/), ~270 bytes. */
export function postmarkRecord(n: number): string {
  const type = TYPES[n % TYPES.length] as (typeof TYPES)[number];
  const messageId = randomUUID();
  const at = new Date().toISOString();
  const recipient = `user.${messageId.slice(0, 8)}@example.com`;
  const common = { RecordType: type, MessageID: messageId, MessageStream: 'outbound', Tag: 'welcome' };
  const record =
    type === 'Delivery'
      ? { ...common, Recipient: recipient, DeliveredAt: at, Details: 'smtp;250 2.0.0 OK', ServerID: 23 }
      : type === 'Open'
        ? { ...common, Recipient: recipient, ReceivedAt: at, FirstOpen: true, Platform: 'WebMail' }
        : type === 'Click'
          ? { ...common, Recipient: recipient, ReceivedAt: at, OriginalLink: 'https://example.com/welcome' }
          : {
              ...common,
              ID: Math.floor(Math.random() * 2 ** 40),
              Type: 'HardBounce',
              TypeCode: 1,
              Email: recipient,
              BouncedAt: at,
              Description: 'The server was unable to deliver your message.',
            };
  return JSON.stringify(record);
}

async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
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

const SENDERS = 16;

/** POSTs `body` as JSON and resolves with the status once the answer is read to its end. */
function post(url: string, body: string, authorization: string, agent: Agent): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization,
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function fill(databaseUrl: string | undefined, posts: number) {
  const target = await startTarget('mailhook-server.js', {
    apiKey: API_KEY,
    ...(databaseUrl && { databaseUrl }),
  });
  const password = randomBytes(12).toString('hex');
  const source = await api<{ ingest_url: string }>(target.url, 'POST', '/v1/sources', {
    name: 'disk',
    provider: 'postmark',
    config: { basic_auth: { username: 'postmark', password } },
  });
  const authorization = `Basic ${Buffer.from(`postmark:${password}`).toString('base64')}`;
  let next = 0;
  let bodyBytes = 0;
  // node:http on kept-alive connections: fetch took several times the CPU per post, on the cores the
  // server under measurement runs on.
  const agent = new Agent({ keepAlive: true, maxSockets: SENDERS });
  const sender = async () => {
    while (next < posts) {
      const body = postmarkRecord(next++);
      bodyBytes += Buffer.byteLength(body);
      const status = await post(source.ingest_url, body, authorization, agent);
      if (status !== 200) throw new Error(`ingest answered ${status}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: SENDERS }, sender));
  } finally {
    agent.destroy();
  }
  const drained = await waitUntil(async () => {
    const page = await api<{ data: unknown[] }>(target.url, 'GET', '/v1/inbox?status=pending&limit=1');
    return page.data.length === 0;
  }, 120_000);
  if (!drained) throw new Error('the pipeline did not finish');
  return { target, bodyBytes: Math.round(bodyBytes / posts), dataDir: String(target.info.dataDir) };
}

export async function diskScenario(opts: { posts: number; postgres: boolean }): Promise<DiskRun[]> {
  const runs: DiskRun[] = [];
  const sqlite = await fill(undefined, opts.posts);
  try {
    const file = join(sqlite.dataDir, 'mailhook.db');
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const rows = db
      .prepare<[], { name: string; bytes: number }>(
        'SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC',
      )
      .all();
    db.close();
    runs.push({
      store: 'sqlite',
      posts: opts.posts,
      bodyBytes: sqlite.bodyBytes,
      bytesPerEvent: Math.round(statSync(file).size / opts.posts),
      breakdown: rows
        .map((r) => ({ name: r.name, bytes: Math.round(r.bytes / opts.posts) }))
        .filter((r) => r.bytes > 0),
    });
  } finally {
    await stopTarget(sqlite.target);
  }
  if (!opts.postgres) return runs;
  const database = await createBenchDatabase('disk');
  try {
    const pg = await fill(database.url, opts.posts);
    try {
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      const tables = await sql<{ name: string; bytes: string }[]>`
        SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY pg_total_relation_size(c.oid) DESC`;
      await sql.end({ timeout: 5 });
      const total = tables.reduce((n, t) => n + Number(t.bytes), 0);
      runs.push({
        store: 'postgres',
        posts: opts.posts,
        bodyBytes: pg.bodyBytes,
        bytesPerEvent: Math.round(total / opts.posts),
        breakdown: tables
          .map((t) => ({ name: t.name, bytes: Math.round(Number(t.bytes) / opts.posts) }))
          .filter((t) => t.bytes > 0),
      });
    } finally {
      await stopTarget(pg.target);
    }
  } finally {
    await database.drop();
  }
  return runs;
}

export function printDisk(runs: DiskRun[]): void {
  for (const run of runs) {
    const top = run.breakdown
      .slice(0, 8)
      .map((b) => `${b.name} ${b.bytes}`)
      .join(', ');
    console.log(
      `\ndisk (${run.store}): ${run.bytesPerEvent} bytes per event for ${run.posts.toLocaleString('en')} single-event Postmark posts of ${run.bodyBytes} bytes, no endpoint (${run.store === 'sqlite' ? 'after a checkpoint' : 'tables with indexes and TOAST'}); per post: ${top}`,
    );
  }
}
