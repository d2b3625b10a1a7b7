import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestApp, testApp } from '../helpers/app.js';
import { waitFor } from '../helpers/process.js';

/**
 * Connection exhaustion against a real server on 127.0.0.1: idle connections that never send a
 * request are held to MAILHOOK_MAX_CONNECTIONS and closed after MAILHOOK_HEADERS_TIMEOUT, a client
 * the server has no room for reads a 503 rather than a reset, and /healthz answers throughout.
 */

let app: TestApp | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
});

async function listening(env: Record<string, string>): Promise<{ app: TestApp; port: number }> {
  app = await testApp(env);
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  if (typeof address !== 'object' || !address) throw new Error('not listening');
  return { app, port: address.port };
}

interface Client {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
  error: () => string | undefined;
}

/** A raw connection that records what the server sends and whether it was reset. */
async function open(port: number, request?: string): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  let closed = false;
  let error: string | undefined;
  socket.on('data', (data) => {
    received += data.toString('latin1');
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message;
  });
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  // The server ending its side is what counts as closed by the server.
  socket.once('end', () => socket.end());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (request) socket.write(request);
  return {
    socket,
    received: () => received,
    closed: closedPromise,
    isClosed: () => closed,
    error: () => error,
  };
}

/** Polls until `condition` holds (with waitFor's deadline). */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  await waitFor(what, async () => ((await condition()) ? true : undefined), { timeoutMs: 5000 });
}

/** GET /healthz on a new connection each time, as a health checker does; 0 when not answered. */
function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

describe('connection limits', () => {
  it('holds 200 idle connections to a cap of 50 by closing the oldest with a 503, and /healthz still answers', async () => {
    const { app, port } = await listening({ MAILHOOK_MAX_CONNECTIONS: '50' });
    const clients: Client[] = [];
    for (let i = 0; i < 200; i++) clients.push(await open(port));

    // Each connection past the cap pushed out the least recently active idle one: the oldest 150.
    await Promise.all(clients.slice(0, 150).map((client) => client.closed));
    for (const client of clients.slice(0, 150)) {
      expect(client.error(), 'closed, not reset').toBeUndefined();
      expect(client.received()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(client.received()).toMatch(/\r\nRetry-After: 1\r\n/);
      expect(JSON.parse(client.received().split('\r\n\r\n')[1] ?? '')).toMatchObject({
        code: 'MH_ERR_TOO_MANY_CONNECTIONS',
      });
    }
    expect(clients.slice(150).filter((client) => client.isClosed())).toEqual([]);
    expect(app.connections()).toMatchObject({ idle: 50, busy: 0 });
    await until(
      'the server holds at most 50 sockets',
      () =>
        new Promise<boolean>((resolve) => app.server.server.getConnections((_err, n) => resolve(n <= 50))),
    );

    // A real client sends its request at once, so it gets in (pushing out one more idle connection).
    expect(await healthz(port)).toBe(200);
    await clients[150]?.closed;
    expect(app.connections().idle + app.connections().busy).toBeLessThanOrEqual(50);
  });

  it('keeps answering /healthz while a flood of idle connections goes on', async () => {
    const { app, port } = await listening({ MAILHOOK_MAX_CONNECTIONS: '50' });
    const FLOOD = 1000;
    let opened = 0;
    const flood = (async () => {
      while (opened < FLOOD) {
        const client = await open(port);
        opened++;
        // Closed by the server when pushed out; dropped here so the client side holds no more.
        void client.closed.then(() => {
          const index = sockets.indexOf(client.socket);
          if (index >= 0) sockets.splice(index, 1);
        });
      }
    })();
    await until('the flood fills the cap', () => opened > 100);
    const statuses: number[] = [];
    while (opened < FLOOD) statuses.push(await healthz(port));
    await flood;
    console.log(
      `idle flood: ${FLOOD} connections opened against a cap of 50; /healthz meanwhile ${statuses.length} times (each on a new connection), ` +
        `answers ${JSON.stringify([...new Set(statuses)])}`,
    );
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(app.connections().idle + app.connections().busy).toBeLessThanOrEqual(50);
  });

  it('answers 503 at once, not a reset, when every connection under the cap has a request in progress', async () => {
    const { app, port } = await listening({ MAILHOOK_MAX_CONNECTIONS: '20' });
    // Requests that announce a body and never send it: busy until the request timeout.
    const head =
      'POST /ingest/src_00000000000000000000000000 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[';
    for (let i = 0; i < 20; i++) await open(port, head);
    await until('20 requests in progress', () => app.connections().busy === 20);

    const refused = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await refused.closed;
    expect(refused.error(), 'closed, not reset').toBeUndefined();
    expect(refused.received()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(refused.received()).toMatch(/\r\nConnection: close\r\n/);
    expect(app.connections().busy).toBe(20);

    // Once the busy ones are gone, there is room again.
    for (const socket of sockets.splice(0)) socket.destroy();
    await until('no request in progress', () => app.connections().busy === 0);
    expect(await healthz(port)).toBe(200);
  });

  it('closes a connection that sends nothing once the headers timeout passes', async () => {
    const { port } = await listening({ MAILHOOK_HEADERS_TIMEOUT: '300ms' });
    const started = performance.now();
    const silent = await open(port);
    await silent.closed;
    const lived = performance.now() - started;
    // Node's defaults kept it 30–60 s; the check runs every headersTimeout/10 here.
    expect(lived).toBeGreaterThanOrEqual(250);
    expect(lived).toBeLessThan(5000);
  });

  it('closes an idle keep-alive connection once the keep-alive timeout passes', async () => {
    const { port } = await listening({ MAILHOOK_KEEP_ALIVE_TIMEOUT: '300ms' });
    const client = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the answer', () => client.received().includes('"ok"'));
    const answered = performance.now();
    await client.closed;
    expect(performance.now() - answered).toBeLessThan(5000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('closes at once, without lingering, after answering a client that has already ended its side', async () => {
    const { port } = await listening({});
    const client = await open(port);
    const started = performance.now();
    client.socket.end('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    // Lingering (reading what a client may still send) is for clients that have not ended: 5 s.
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('sets the timeouts on the Node server', async () => {
    const { app } = await listening({});
    const http = app.server.server;
    expect(http.headersTimeout).toBe(10_000);
    expect(http.keepAliveTimeout).toBe(5_000);
    expect(http.requestTimeout).toBe(30_000);
    expect(http.maxConnections).toBeGreaterThan(10_000);
  });
});
