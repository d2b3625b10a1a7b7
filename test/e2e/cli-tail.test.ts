import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  childEnv,
  E2E_API_KEY,
  killAll,
  removeDir,
  runCli,
  type ServerProcess,
  type Spawned,
  signal,
  spawnCli,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';

/**
 * `mailhook events tail` as a user runs it against a real server: every event once, in the order it
 * was stored, including events reported late with an earlier timestamp (as providers do, and as
 * `mailhook simulate` does), and across a lost connection.
 */

const dirs: string[] = [];
let srv: ServerProcess;

beforeAll(async () => {
  const dir = tempDataDir();
  dirs.push(dir);
  srv = await startServer({ dataDir: dir, env: { MAILHOOK_LOG_LEVEL: 'warn' } });
}, 60_000);

afterAll(async () => {
  await killAll();
  for (const dir of dirs) removeDir(dir);
});

interface Published {
  id: string;
}

/** Publishes events in one batch, stored in this order; each `minutesAgo` back-dates one. */
async function publish(...minutesAgo: number[]): Promise<string[]> {
  const res = await api<{ data: Array<{ event: Published }> }>(srv.url, '/v1/events', {
    method: 'POST',
    body: {
      events: minutesAgo.map((m, i) => ({
        type: 'email.delivered',
        timestamp: new Date(Date.now() - m * 60_000).toISOString(),
        data: { recipient: `tail-${i}-${m}@example.com` },
      })),
    },
  });
  expect(res.status).toBe(201);
  return res.body.data.map((item) => item.event.id);
}

function tail(url: string, args: string[]): Spawned {
  return spawnCli(
    ['events', 'tail', '--json', ...args],
    childEnv({ MAILHOOK_URL: url, MAILHOOK_API_KEY: E2E_API_KEY }),
  );
}

function printedIds(spawned: Spawned): string[] {
  return spawned
    .stdout()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as Published).id);
}

async function following(spawned: Spawned): Promise<void> {
  await waitFor('the tail to follow', async () =>
    spawned.stderr().includes('following') ? true : undefined,
  );
}

/** The tail's exit, or a failure naming what it printed if it does not come within `ms`. */
async function exitOf(spawned: Spawned, ms = 20_000) {
  const timer = setTimeout(() => signal(spawned, 'SIGKILL'), ms);
  try {
    return await spawned.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP relay to the server that can drop every connection and refuse new ones, like a flaky network. */
async function relay(port: number) {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const relayPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${relayPort}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('mailhook events tail', () => {
  it('prints every new event once in the order stored, however far back its timestamp', async () => {
    // Newer events than any page a timestamp-ordered reader looks at, stored before the tail starts.
    await publish(...Array.from({ length: 150 }, () => 0));
    const late = [0, 5, 60 * 24 * 365, 90, 30, 60 * 24, 1];
    const spawned = tail(srv.url, ['--count', String(late.length)]);
    await following(spawned);
    const stored: string[] = [];
    for (const minutes of late) stored.push(...(await publish(minutes)));
    const exit = await exitOf(spawned);
    expect(printedIds(spawned)).toEqual(stored);
    expect(exit.code).toBe(0);
  }, 60_000);

  it('prints every event `mailhook simulate` sends, though the provider stamps them up to an hour back', async () => {
    const key = 'key-tail-simulated-0123456789';
    const source = await api<{ id: string; ingest_url: string }>(srv.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'tail simulated mailgun', provider: 'mailgun', config: { signing_key: key } },
    });
    expect(source.status).toBe(201);
    const count = 7;
    const spawned = tail(srv.url, ['--source', source.body.id, '--count', String(count)]);
    await following(spawned);
    const run = await runCli(
      [
        'simulate',
        '--provider',
        'mailgun',
        '--key',
        key,
        '--url',
        source.body.ingest_url,
        '--count',
        String(count),
        '--seed',
        '17',
        '--shuffle',
      ],
      childEnv({}),
      60_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const exit = await exitOf(spawned);
    const stored = await api<{ data: Published[] }>(
      srv.url,
      `/v1/events?source_id=${source.body.id}&limit=100`,
    );
    expect(stored.body.data).toHaveLength(count);
    expect([...printedIds(spawned)].sort()).toEqual(stored.body.data.map((e) => e.id).sort());
    expect(exit.code).toBe(0);
  }, 90_000);

  it('resumes after a lost connection with the events stored meanwhile, each printed once', async () => {
    const network = await relay(srv.port);
    try {
      const spawned = tail(network.url, ['--count', '4']);
      await following(spawned);
      const [before] = await publish(0);
      await waitFor('the first event', async () => (printedIds(spawned).length === 1 ? true : undefined));
      network.cut();
      await waitFor('the tail to notice', async () =>
        spawned.stderr().includes('retrying') ? true : undefined,
      );
      // Stored while the tail cannot reach the server: only Last-Event-ID brings them.
      const meanwhile = await publish(60, 0, 60 * 24 * 7);
      network.restore();
      const exit = await exitOf(spawned);
      expect(printedIds(spawned)).toEqual([before, ...meanwhile]);
      expect(spawned.stderr()).toContain('connected again');
      expect(exit.code).toBe(0);
    } finally {
      await network.close();
    }
  }, 60_000);

  it('with --since, prints what exists first, then what arrives, each once', async () => {
    // Everything the tests above published is stamped earlier than this.
    const since = new Date().toISOString();
    const existing = await publish(0, 0);
    const spawned = tail(srv.url, ['--since', since, '--count', '4']);
    await following(spawned);
    const arriving = await publish(0, 60 * 24);
    const exit = await exitOf(spawned);
    const printed = printedIds(spawned);
    expect([...printed.slice(0, 2)].sort()).toEqual([...existing].sort());
    expect(printed.slice(2)).toEqual(arriving);
    expect(exit.code).toBe(0);
  }, 60_000);
});
