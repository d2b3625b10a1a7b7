import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryClient, type DeliveryRequest } from '../../../src/delivery/http-client.js';
import type { Lookup } from '../../../src/delivery/ssrf.js';

interface Receiver {
  url: string;
  port: number;
  connections: number;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
}

const servers: Server[] = [];
const clients: DeliveryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function receiver(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Receiver> {
  const state: Receiver = { url: '', port: 0, connections: 0, requests: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      handler(req, res);
    });
  });
  server.on('connection', () => {
    state.connections++;
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}

function client(opts: { allowPrivate?: boolean; lookup?: Lookup } = {}): DeliveryClient {
  const c = new DeliveryClient({
    allowPrivate: opts.allowPrivate ?? true,
    lookup: opts.lookup,
    userAgent: 'mailhook/test',
  });
  clients.push(c);
  return c;
}

const request = (url: string, extra: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  url,
  headers: { 'webhook-id': 'msg_1' },
  body: '{"type":"email.delivered"}',
  timeoutMs: 2_000,
  ...extra,
});

const resolvesTo =
  (address: string): Lookup =>
  async () => [{ address, family: address.includes(':') ? 6 : 4 }];

describe('DeliveryClient', () => {
  it('posts the body with its headers and returns a 2xx with a 1024-byte body snippet', async () => {
    const server = await receiver((_req, res) => {
      res.writeHead(200, { 'X-Receiver': 'yes' });
      res.end('a'.repeat(5_000));
    });
    const result = await client().send(request(`${server.url}/hooks?x=1`));

    expect(result).toMatchObject({ kind: 'response', status: 200, headers: { 'x-receiver': 'yes' } });
    if (result.kind !== 'response') throw new Error('expected a response');
    expect(result.bodySnippet).toBe('a'.repeat(1024));
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.requests).toEqual([
      {
        method: 'POST',
        url: '/hooks?x=1',
        headers: expect.objectContaining({
          'user-agent': 'mailhook/test',
          'content-type': 'application/json',
          'webhook-id': 'msg_1',
        }),
        body: '{"type":"email.delivered"}',
      },
    ]);
  });

  it('keeps a content type the caller gives', async () => {
    const server = await receiver((_req, res) => res.end());
    await client().send(request(server.url, { headers: { 'Content-Type': 'text/plain' } }));
    expect(server.requests[0]?.headers['content-type']).toBe('text/plain');
  });

  it('sends a custom header named __proto__ like any other', async () => {
    // Node's req.headers cannot hold it (it is a plain object); the raw header list can.
    let raw: string[] = [];
    const server = await receiver((req, res) => {
      raw = req.rawHeaders;
      res.end();
    });
    const headers = JSON.parse('{"__proto__": "x", "x-tenant": "acme"}') as Record<string, string>;
    await client().send(request(server.url, { headers }));
    expect(raw.join('\n')).toContain('__proto__\nx');
    expect(raw.join('\n')).toContain('x-tenant\nacme');
  });

  it('cuts the snippet before a multi-byte character split by the 1024-byte limit', async () => {
    const server = await receiver((_req, res) => res.end(`${'a'.repeat(1023)}é and more`));
    const result = await client().send(request(server.url));
    expect(result).toMatchObject({ kind: 'response', bodySnippet: 'a'.repeat(1023) });
  });

  it('returns a 500 as a response, not an error', async () => {
    const server = await receiver((_req, res) => {
      res.writeHead(500);
      res.end('boom');
    });
    expect(await client().send(request(server.url))).toMatchObject({
      kind: 'response',
      status: 500,
      bodySnippet: 'boom',
    });
  });

  it('does not follow a redirect', async () => {
    const server = await receiver((req, res) => {
      if (req.url === '/elsewhere') return res.end('followed');
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });
    const result = await client().send(request(`${server.url}/hook`));
    expect(result).toMatchObject({ kind: 'response', status: 302, headers: { location: '/elsewhere' } });
    expect(server.requests.map((r) => r.url)).toEqual(['/hook']);
  });

  it('times out when the server never answers', async () => {
    const server = await receiver(() => {});
    const result = await client().send(request(server.url, { timeoutMs: 200 }));
    expect(result).toMatchObject({ kind: 'error', errorClass: 'timeout' });
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(result.durationMs).toBeLessThan(3_000); // the timeout, not a hang; slack for a busy machine
  });

  it('times out when the server sends headers but never finishes the body', async () => {
    const server = await receiver((_req, res) => {
      res.writeHead(200, { 'content-length': '10000' });
      res.write('x'.repeat(2_000));
    });
    const result = await client().send(request(server.url, { timeoutMs: 200 }));
    expect(result).toMatchObject({ kind: 'error', errorClass: 'timeout' });
    expect(result.durationMs).toBeLessThan(3_000); // the timeout, not a hang; slack for a busy machine
  });

  it('reports a closed port as connection_refused', async () => {
    const server = await receiver(() => {});
    const closed = servers.pop()!;
    closed.close();
    await once(closed, 'close');
    expect(await client().send(request(server.url))).toMatchObject({
      kind: 'error',
      errorClass: 'connection_refused',
    });
  });

  it('reports a socket destroyed by the server as connection_reset', async () => {
    const server = await receiver((req) => req.socket.destroy());
    expect(await client().send(request(server.url))).toMatchObject({
      kind: 'error',
      errorClass: 'connection_reset',
    });
  });

  it('reports a name that does not resolve as dns', async () => {
    const lookup: Lookup = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    expect(await client({ lookup }).send(request('http://nowhere.invalid/'))).toMatchObject({
      kind: 'error',
      errorClass: 'dns',
    });
  });

  it('reports a TLS handshake with a plain-HTTP server as tls', async () => {
    const server = await receiver((_req, res) => res.end());
    const result = await client().send(request(`https://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ kind: 'error', errorClass: 'tls' });
  });

  it('reuses one keep-alive socket for sequential requests, even after a long body', async () => {
    const server = await receiver((_req, res) => res.end('b'.repeat(3_000)));
    const c = client();
    for (let i = 0; i < 20; i++) {
      expect(await c.send(request(server.url))).toMatchObject({ kind: 'response', status: 200 });
    }
    expect(server.requests).toHaveLength(20);
    expect(server.connections).toBe(1);
  });

  it('connects to the address its injected lookup returns', async () => {
    const server = await receiver((_req, res) => res.end('ok'));
    const result = await client({ lookup: resolvesTo('127.0.0.1') }).send(
      request(`http://hooks.example.test:${server.port}/`),
    );
    expect(result).toMatchObject({ kind: 'response', status: 200, bodySnippet: 'ok' });
  });

  describe('with private targets refused', () => {
    it('refuses an IP-literal URL in a private range and sends nothing', async () => {
      const server = await receiver((_req, res) => res.end());
      for (const url of [server.url, `http://[::ffff:127.0.0.1]:${server.port}`]) {
        expect(await client({ allowPrivate: false }).send(request(url))).toMatchObject({
          kind: 'error',
          errorClass: 'forbidden_address',
        });
      }
      expect(server.connections).toBe(0);
    });

    it('refuses a host name that resolves to a loopback address, at connect time, and sends nothing', async () => {
      const server = await receiver((_req, res) => res.end());
      const result = await client({ allowPrivate: false, lookup: resolvesTo('127.0.0.1') }).send(
        request(`http://rebound.example.test:${server.port}/`),
      );
      expect(result).toMatchObject({ kind: 'error', errorClass: 'forbidden_address' });
      expect(server.connections).toBe(0);
    });

    it('refuses a host name when any of its addresses is forbidden', async () => {
      const server = await receiver((_req, res) => res.end());
      const lookup: Lookup = async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
      const result = await client({ allowPrivate: false, lookup }).send(
        request(`http://mixed.example.test:${server.port}/`),
      );
      expect(result).toMatchObject({ kind: 'error', errorClass: 'forbidden_address' });
      expect(server.connections).toBe(0);
    });

    it('refuses localhost without asking DNS', async () => {
      const lookup: Lookup = async () => {
        throw new Error('lookup must not be called');
      };
      expect(
        await client({ allowPrivate: false, lookup }).send(request('http://localhost:1/')),
      ).toMatchObject({
        kind: 'error',
        errorClass: 'forbidden_address',
      });
    });
  });
});
