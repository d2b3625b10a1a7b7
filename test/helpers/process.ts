import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Helpers for end-to-end tests that run the compiled CLI (`node bin/mailhook.js …`) as real processes. */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'mailhook.js');

/** The admin key every e2e server is started with (unless a test removes it on purpose). */
export const E2E_API_KEY = 'e2e-admin-key-0123456789abcdef';

export function bearer(key: string = E2E_API_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** A fresh, empty data directory; remove it with `removeDir` when the test is done. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'mailhook-e2e-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago: bind port 0 on 127.0.0.1, read it, close. */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * The environment of a child: the parent's, minus anything that could point it at another store or
 * server (DATABASE_URL, HOST, PORT, every MAILHOOK_*), plus the given values. A value of `undefined`
 * leaves the variable unset.
 */
export function childEnv(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'DATABASE_URL' || name === 'HOST' || name === 'PORT' || name.startsWith('MAILHOOK_')) {
      delete env[name];
    }
  }
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** The standard environment of an e2e child: its own data dir, info logs, the known API key. */
export function e2eEnv(dataDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv({
    MAILHOOK_DATA_DIR: dataDir,
    MAILHOOK_LOG_LEVEL: 'info',
    MAILHOOK_API_KEY: E2E_API_KEY,
    ...extra,
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned child with its output collected and its exit observable. */
export interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited and its output streams are closed. */
  exited: Promise<Exit>;
  hasExited(): boolean;
}

/** Every child spawned here, so `killAll` can clean up after a failing test. */
const children = new Set<Spawned>();

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn mailhook ${args.join(' ')}`);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  let done = false;
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    // 'close' (not 'exit') so that all output has been read when this settles.
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const spawned: Spawned = {
    child,
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
  };
  children.add(spawned);
  exited.then(
    () => children.delete(spawned),
    () => children.delete(spawned),
  );
  return spawned;
}

/** Sends `signal` to this child only (by its pid) if it is still running. */
export function signal(spawned: Spawned, sig: NodeJS.Signals): void {
  if (!spawned.hasExited() && spawned.child.exitCode === null && spawned.child.signalCode === null) {
    spawned.child.kill(sig);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** SIGKILLs every child spawned by this module that is still running and waits for them to go. */
export async function killAll(): Promise<void> {
  const running = [...children];
  for (const spawned of running) signal(spawned, 'SIGKILL');
  await Promise.allSettled(running.map((s) => withTimeout(s.exited, 5000, `exit of pid ${s.pid}`)));
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a CLI command to completion (SIGKILLed after `timeoutMs`). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<CliResult> {
  const started = Date.now();
  const spawned = spawnCli(args, env);
  const timer = setTimeout(() => signal(spawned, 'SIGKILL'), timeoutMs);
  try {
    const exit = await spawned.exited;
    return { ...exit, stdout: spawned.stdout(), stderr: spawned.stderr(), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ServerProcess extends Spawned {
  url: string;
  port: number;
  dataDir: string;
  /** SIGTERM, then wait for a clean exit (SIGKILL if it takes longer than `timeoutMs`). */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL, then wait for the process to be gone. */
  crash(): Promise<Exit>;
}

export interface StartOptions {
  dataDir: string;
  /** Extra variables; `undefined` unsets one (e.g. MAILHOOK_API_KEY). */
  env?: Record<string, string | undefined>;
  readyTimeoutMs?: number;
}

/**
 * Spawns `mailhook serve` on a free port of 127.0.0.1 and polls GET /readyz until it answers 200.
 * The port is free when chosen but another test process may bind it before the child does; such a
 * start is retried on a new port.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(options);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startServerOnce(options: StartOptions): Promise<ServerProcess> {
  const port = await freePort();
  const env = e2eEnv(options.dataDir, { HOST: '127.0.0.1', PORT: String(port), ...options.env });
  const spawned = spawnCli(['serve'], env);
  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    ...spawned,
    url,
    port,
    dataDir: options.dataDir,
    async stop(timeoutMs = 10_000) {
      signal(spawned, 'SIGTERM');
      const timer = setTimeout(() => signal(spawned, 'SIGKILL'), timeoutMs);
      try {
        return await spawned.exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async crash() {
      signal(spawned, 'SIGKILL');
      return withTimeout(spawned.exited, 5000, `exit of pid ${spawned.pid} after SIGKILL`);
    },
  };
  let ready = false;
  const exitedEarly = spawned.exited.then((exit) => {
    if (!ready) {
      throw new Error(
        `mailhook serve exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n` +
          `${spawned.stderr()}${spawned.stdout()}`,
      );
    }
  });
  exitedEarly.catch(() => undefined);
  try {
    await Promise.race([
      exitedEarly,
      waitFor(
        `GET ${url}/readyz`,
        async () => {
          if (ready) return true; // gave up already (the process exited): stop polling
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
          await response.arrayBuffer();
          return response.status === 200 ? true : undefined;
        },
        { timeoutMs: options.readyTimeoutMs ?? 15_000, intervalMs: 50 },
      ),
    ]);
    ready = true;
  } catch (err) {
    ready = true;
    await server.crash().catch(() => undefined);
    throw err;
  }
  return server;
}

/** A JSON request to the /v1 API (or any path) of a server, with the admin key by default. */
export async function api<T = unknown>(
  url: string,
  path: string,
  init: { method?: string; body?: unknown; key?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = bearer(init.key);
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
}
