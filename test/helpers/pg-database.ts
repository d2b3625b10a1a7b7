import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { expect } from 'vitest';
import { TEST_DATABASE_URL } from './postgres.js';
import {
  api,
  type Exit,
  e2eEnv,
  freePort,
  removeDir,
  type Spawned,
  signal,
  spawnCli,
  tempDataDir,
  waitFor,
} from './process.js';
import type { SendGridSigner } from './sendgrid.js';

/**
 * PostgreSQL end-to-end helpers: a fresh database per test file (CREATE DATABASE on the server's
 * `postgres` database, dropped WITH (FORCE) afterwards) and `mailhook serve` nodes pointed at it with
 * DATABASE_URL, each on a port of its own that a restart can reuse.
 */

/** The URL of another database on the test server (same host, user and options). */
export function databaseUrl(database: string, base: string = TEST_DATABASE_URL): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The maintenance database CREATE/DROP DATABASE run on. */
export const ADMIN_DATABASE_URL = databaseUrl('postgres');

export interface TestDatabase {
  name: string;
  /** The URL every node gets as DATABASE_URL. */
  url: string;
  /** A small pool on this database for the test's own checks (closed by `drop`). */
  sql: postgres.Sql;
  /** Closes `sql` and drops the database WITH (FORCE), whoever is still connected. */
  drop(): Promise<void>;
}

function adminClient(): postgres.Sql {
  return postgres(ADMIN_DATABASE_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
}

/** `CREATE DATABASE mh_e2e_<random>`: empty, owned by this test file only. */
export async function createTestDatabase(prefix = 'mh_e2e'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = adminClient();
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = databaseUrl(name);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  let dropped = false;
  return {
    name,
    url,
    sql,
    async drop() {
      if (dropped) return;
      dropped = true;
      await sql.end({ timeout: 5 }).catch(() => undefined);
      const a = adminClient();
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Nodes

export interface PgNode extends Spawned {
  url: string;
  port: number;
  /** Resolves once GET /readyz answers 200; rejects if the process exits first or after the timeout. */
  ready: Promise<void>;
  /** SIGKILL, then wait for the process to be gone. */
  crash(): Promise<Exit>;
  /** SIGTERM, then wait (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<Exit>;
}

export interface PgNodeOptions {
  databaseUrl: string;
  port: number;
  /** Extra variables (MAILHOOK_*); `undefined` unsets one. */
  env?: Record<string, string | undefined>;
  readyTimeoutMs?: number;
}

/** Every node's data dir (unused by PostgreSQL, but the server is given one of its own). */
const nodeDirs: string[] = [];

export function removeNodeDirs(): void {
  for (const dir of nodeDirs.splice(0)) removeDir(dir);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Spawns `mailhook serve` on the given port with DATABASE_URL, synchronously (so several nodes can be
 * started at the same instant); `ready` settles when it answers GET /readyz. Killed by `killAll()`.
 */
export function spawnPgNode(options: PgNodeOptions): PgNode {
  const dataDir = tempDataDir();
  nodeDirs.push(dataDir);
  const env = e2eEnv(dataDir, {
    HOST: '127.0.0.1',
    PORT: String(options.port),
    DATABASE_URL: options.databaseUrl,
    ...options.env,
  });
  const spawned = spawnCli(['serve'], env);
  const url = `http://127.0.0.1:${options.port}`;
  let settled = false;
  const exitedEarly = spawned.exited.then((exit) => {
    if (!settled) {
      throw new Error(
        `mailhook serve on port ${options.port} exited (code ${exit.code}, signal ${exit.signal}) ` +
          `before it was ready:\n${spawned.stderr()}${spawned.stdout()}`,
      );
    }
  });
  exitedEarly.catch(() => undefined);
  const ready = Promise.race([
    exitedEarly,
    waitFor(
      `GET ${url}/readyz`,
      async () => {
        if (settled) return true;
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        return response.status === 200 ? true : undefined;
      },
      { timeoutMs: options.readyTimeoutMs ?? 20_000, intervalMs: 25 },
    ),
  ]).then(
    () => {
      settled = true;
    },
    (err: unknown) => {
      settled = true;
      signal(spawned, 'SIGKILL');
      throw err;
    },
  );
  ready.catch(() => undefined);
  return {
    ...spawned,
    url,
    port: options.port,
    ready,
    async crash() {
      signal(spawned, 'SIGKILL');
      return withTimeout(spawned.exited, 5000, `exit of pid ${spawned.pid} after SIGKILL`);
    },
    async stop(timeoutMs = 10_000) {
      signal(spawned, 'SIGTERM');
      const timer = setTimeout(() => signal(spawned, 'SIGKILL'), timeoutMs);
      try {
        return await spawned.exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Spawns a node (on a free port unless one is given) and waits until it is ready. */
export async function startPgNode(options: Omit<PgNodeOptions, 'port'> & { port?: number }): Promise<PgNode> {
  const port = options.port ?? (await freePort());
  const node = spawnPgNode({ ...options, port });
  await node.ready;
  return node;
}

/** `count` distinct free ports (each was free a moment ago). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------------------------------------
// Load and queries shared by the PostgreSQL e2e tests

export interface EventView {
  id: string;
  type: string;
  data: { provider_event_id: string | null; source_id: string };
}

export interface DeliveryView {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
}

/**
 * Every stored event of one source (or of all sources), paging through GET /v1/events with
 * limit=500. mailhook's own system.* events (source src_system) are listed too when no source is given.
 */
export async function allEvents<T = EventView>(url: string, sourceId?: string): Promise<T[]> {
  const events: T[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await api<{ data: T[]; next_cursor: string | null }>(
      url,
      `/v1/events?limit=500${sourceId ? `&source_id=${sourceId}` : ''}${query}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    events.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return events;
}

/** Every delivery of an endpoint, paging through GET /v1/endpoints/:id/deliveries. */
export async function allDeliveries(url: string, endpointId: string): Promise<DeliveryView[]> {
  const deliveries: DeliveryView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await api<{ data: DeliveryView[]; next_cursor: string | null }>(
      url,
      `/v1/endpoints/${endpointId}/deliveries?limit=500${query}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    deliveries.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return deliveries;
}

/** True when GET /v1/inbox?status=pending is empty. */
export async function inboxDrained(url: string): Promise<boolean> {
  const pending = await api<{ data: unknown[] }>(url, '/v1/inbox?status=pending&limit=1');
  return pending.status === 200 && pending.body.data.length === 0;
}

/** Creates a SendGrid source for `signer` through a node's API; returns its id. */
export async function createSendGridSource(
  url: string,
  signer: SendGridSigner,
  name: string,
): Promise<string> {
  const created = await api<{ id: string }>(url, '/v1/sources', {
    method: 'POST',
    body: { name, provider: 'sendgrid', config: { public_key: signer.publicKey } },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

export interface StoredCheck {
  missing: string[];
  duplicated: string[];
  unknown: string[];
}

/** Compares stored events (by provider event id) with what was acknowledged and sent. */
export function checkStored(events: EventView[], acknowledged: Set<string>, sent: Set<string>): StoredCheck {
  const seen = new Map<string, number>();
  for (const event of events) {
    const key = String(event.data.provider_event_id);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return {
    missing: [...acknowledged].filter((id) => !seen.has(id)),
    duplicated: [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`),
    unknown: [...seen.keys()].filter((id) => !sent.has(id)),
  };
}

export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
