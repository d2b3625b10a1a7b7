import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { providerIds } from '../../../src/providers/registry.js';
import { testApp } from '../../helpers/app.js';
import {
  hostileBody,
  hostileHeaders,
  hostileQuery,
  providerConfigs,
  randomBytes,
} from '../../helpers/hostile.js';
import { sleep } from '../../helpers/pg-database.js';
import {
  api,
  killAll,
  removeDir,
  type ServerProcess,
  startServer,
  tempDataDir,
} from '../../helpers/process.js';
import { pick, runSeed, seededRandom } from '../../helpers/random.js';
import { percentile, tally } from '../../helpers/reliability.js';

/**
 * Hostile traffic against a real server: a loop of mutated requests to every provider's ingest URL
 * (and to URLs that are not one), raw garbage on the socket, bodies over the limit announced or
 * streamed, and hundreds of clients that send their body one byte at a time. The server must answer
 * each with a 4xx (never 500, never 200 for anything unverified), store nothing, and stay healthy.
 */

const MAX_BODY = 64 * 1024;
const ENV = { MAILHOOK_MAX_BODY: '64kb', MAILHOOK_LOG_LEVEL: 'warn' };

const dirs: string[] = [];

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

async function server(): Promise<ServerProcess> {
  const dataDir = tempDataDir();
  dirs.push(dataDir);
  return startServer({ dataDir, env: ENV });
}

/** Raw bytes on a fresh connection; resolves with what came back before the server closed it. */
function rawExchange(port: number, payload: Buffer, waitMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
    socket.write(payload);
    setTimeout(() => socket.destroy(), waitMs);
  });
}

describe('hostile HTTP against a real server', () => {
  it('answers a loop of mutated requests to every ingest URL with 4xx only, stores nothing and stays healthy', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const target = await server();
    const { configs } = providerConfigs();
    const sources = new Map<string, string>();
    for (const provider of providerIds()) {
      const created = await api<{ id: string }>(target.url, '/v1/sources', {
        method: 'POST',
        body: { name: `hostile ${provider}`, provider, config: configs[provider] },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      sources.set(created.body.id, provider);
    }
    const ids = [...sources.keys()];
    const paths = () =>
      pick(random, [
        `/ingest/${pick(random, ids)}`,
        `/ingest/${pick(random, ids)}`,
        `/ingest/${pick(random, ids)}`,
        '/ingest/src_00000000000000000000000000',
        '/ingest/',
        `/ingest/${'a'.repeat(5000)}`,
        '/ingest/%00',
        '/ingest/..%2F..%2Fv1%2Fsources',
        `/ingest/${pick(random, ids)}/extra`,
        '/v1/sources',
        '/v1/events',
        '/%ff%fe',
      ]);

    const outcomes: Array<{
      status: number;
      method: string;
      path: string;
      label: string;
      ms: number;
      error?: string;
      size: number;
    }> = [];
    let stop = false;
    const REQUESTS = 1500;
    let sent = 0;
    const worker = async () => {
      while (!stop && sent < REQUESTS) {
        sent++;
        const { label, body } = hostileBody(random);
        const path = paths();
        const method = pick(random, [
          'POST',
          'POST',
          'POST',
          'GET',
          'HEAD',
          'PUT',
          'DELETE',
          'OPTIONS',
          'PATCH',
        ]);
        const query = hostileQuery(random);
        const headers = hostileHeaders(random);
        // Header values fetch() refuses to send are sent by the raw-socket test below instead.
        for (const [name, value] of Object.entries(headers)) {
          if (!/^[\t\x20-\x7e]*$/.test(value)) delete headers[name];
        }
        const started = performance.now();
        let status = 0;
        let error: string | undefined;
        try {
          const response = await fetch(`${target.url}${path}${query ? `?${query}` : ''}`, {
            method,
            headers,
            ...(method !== 'GET' && method !== 'HEAD' && { body }),
            signal: AbortSignal.timeout(10_000),
          });
          await response.arrayBuffer();
          status = response.status;
        } catch (err) {
          error = `${String(err)} ${String((err as { cause?: unknown }).cause ?? '')}`;
        }
        outcomes.push({
          status,
          method,
          path: path.slice(0, 60),
          label,
          ms: performance.now() - started,
          size: body.length,
          ...(error && { error }),
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    stop = true;

    // Raw garbage on the socket: not HTTP at all, broken request lines, huge headers, bad chunking.
    const raw = [
      randomBytes(random, 4096),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.replace('HTTP/1.1', 'HTTP/9.9')),
      Buffer.from(`POST /ingest/${ids[0]} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      Buffer.from(
        `POST /ingest/${ids[0]} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
      ),
      Buffer.from(
        `POST /ingest/${ids[0]} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello`,
      ),
      Buffer.from(
        `POST /ingest/${ids[0]} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nWebhook-Signature: \u00ff\u00fe\r\nContent-Length: 2\r\n\r\n{}`,
        'latin1',
      ),
    ];
    const rawAnswers: string[] = [];
    for (const payload of raw)
      rawAnswers.push((await rawExchange(target.port, payload)).split('\r\n')[0] ?? '');

    const health = await api(target.url, '/healthz');
    const ready = await api(target.url, '/readyz');
    const inbox = await api<{ data: unknown[] }>(target.url, '/v1/inbox?limit=5');
    const byStatus = tally(outcomes, (o) => o.status);
    const latencies = outcomes.map((o) => o.ms);
    const accepted = outcomes.filter(
      (o) => o.status >= 200 && o.status < 300 && o.method !== 'GET' && o.method !== 'HEAD',
    );
    const serverErrors = outcomes.filter((o) => o.status >= 500 && o.status !== 503);
    const unavailable = outcomes.filter((o) => o.status === 503);
    console.log(
      `hostile requests (seed ${seed}): ${outcomes.length} mutated requests to ${ids.length} sources, answers ` +
        `${JSON.stringify(byStatus)}, p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms; ` +
        `raw socket garbage answered ${JSON.stringify(rawAnswers)}; afterwards /healthz ${health.status}, /readyz ${ready.status}, ` +
        `${inbox.body.data.length} inbox rows`,
    );

    expect(target.hasExited()).toBe(false);
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(inbox.body.data, 'nothing unverified is stored').toEqual([]);
    expect(accepted.map((o) => `${o.method} ${o.path} ${o.label}: ${o.status}`)).toEqual([]);
    expect(
      serverErrors.map((o) => `${o.method} ${o.path} ${o.label}: ${o.status}`),
      `seed ${seed}`,
    ).toEqual([]);
    // 503 means "could not verify now, retry": only SES does that (its certificate is unreachable here).
    const ses = sesSource(sources);
    expect(
      unavailable.filter((o) => !o.path.includes(ses)).map((o) => `${o.method} ${o.path} ${o.label}`),
    ).toEqual([]);
    expect(
      // Over the limit, the server answers 413 and reads and drops the rest for up to 5 s before it
      // closes (test/e2e/oversized-bodies.test.ts checks that answer); anything else must be answered.
      outcomes
        .filter((o) => o.status === 0 && o.size <= MAX_BODY)
        .map((o) => `${o.method} ${o.path} ${o.label}: ${o.error}`),
      'requests that got no answer',
    ).toEqual([]);
    for (const answer of rawAnswers)
      expect(answer === '' || /^HTTP\/1\.1 4\d\d/.test(answer), answer).toBe(true);
  }, 90_000);

  it('refuses bodies over the limit with 413, without reading what was announced', async () => {
    const target = await server();
    const { configs, sendgrid } = providerConfigs();
    const created = await api<{ id: string }>(target.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'big', provider: 'sendgrid', config: configs.sendgrid },
    });
    const ingest = `/ingest/${created.body.id}`;

    // Just over the limit, signed: refused for its size, not its signature.
    const over = `[${JSON.stringify({ pad: 'x'.repeat(MAX_BODY) })}]`;
    const overAnswer = await fetch(`${target.url}${ingest}`, {
      method: 'POST',
      headers: sendgrid.headers(over),
      body: over,
    });
    const overBody = (await overAnswer.json()) as { code: string };

    // 100 MB announced, then streamed: the answer must come after the first bytes, not after 100 MB.
    const announced = await streamBody(
      target.port,
      `POST ${ingest} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
      (chunk) => chunk,
    );
    // Chunked, no length announced: refused once the limit is passed.
    const chunked = await streamBody(
      target.port,
      `POST ${ingest} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      (chunk) => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]),
    );

    // The JSON API has its own (1 MB) limit.
    const bigJson = await fetch(`${target.url}/v1/sources`, {
      method: 'POST',
      headers: { authorization: 'Bearer e2e-admin-key-0123456789abcdef', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), provider: 'sendgrid' }),
    });
    await bigJson.arrayBuffer();

    console.log(
      `oversized bodies: ${over.length} B signed → ${overAnswer.status} ${overBody.code}; 100 MB announced → ` +
        `${announced.status} after ${(announced.sentBytes / 1024).toFixed(0)} KB sent; ` +
        `chunked → ${chunked.status} after ${(chunked.sentBytes / 1024).toFixed(0)} KB; 2 MB JSON to /v1 → ${bigJson.status}`,
    );
    expect(overAnswer.status).toBe(413);
    expect(overBody.code).toBe('MH_ERR_PAYLOAD_TOO_LARGE');
    expect(announced.status).toBe(413);
    // Refused on the announced length: far less than the 100 MB was ever sent.
    expect(announced.sentBytes).toBeLessThan(10 * 1024 * 1024);
    expect(chunked.status).toBe(413);
    expect(chunked.sentBytes).toBeLessThan(10 * MAX_BODY);
    expect(bigJson.status).toBe(413);
    expect((await api(target.url, '/readyz')).status).toBe(200);
    expect((await api<{ data: unknown[] }>(target.url, '/v1/inbox?limit=1')).body.data).toEqual([]);
  }, 60_000);

  it('keeps answering others while 300 clients trickle their request bodies one byte at a time', async () => {
    const target = await server();
    const { configs } = providerConfigs();
    const created = await api<{ id: string }>(target.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'slow', provider: 'sendgrid', config: configs.sendgrid },
    });
    const SLOW = 300;
    const sockets: Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < SLOW; i++) {
      const socket = connect(target.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => closedByServer++);
      socket.write(
        // Under the body limit and to a real source, so the server has every reason to wait.
        `POST /ingest/${created.body.id} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30000\r\n\r\n`,
      );
      sockets.push(socket);
    }
    const trickle = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write('[');
    }, 1000);
    try {
      await sleep(1500);
      const latencies: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const started = performance.now();
        const ready = await fetch(`${target.url}/readyz`, { signal: AbortSignal.timeout(5000) });
        await ready.arrayBuffer();
        latencies.push(performance.now() - started);
        statuses.push(ready.status);
      }
      await sleep(8000);
      const open = sockets.filter((s) => !s.destroyed).length;
      console.log(
        `slow bodies: ${SLOW} connections trickling 1 byte/s; /readyz meanwhile ${JSON.stringify(tally(statuses, (s) => s))}, ` +
          `p50 ${percentile(latencies, 50).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms; ` +
          `after 10 s ${open} of the slow connections are still open (${closedByServer} closed by the server)`,
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(percentile(latencies, 99)).toBeLessThan(1000);
      expect(target.hasExited()).toBe(false);
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  }, 60_000);

  it('configures request and connection timeouts, so slow clients are eventually cut off', async () => {
    // Fastify's defaults are 0 (no limit) for both; Node's own 60 s headersTimeout only covers the
    // headers, so a client that trickles its body (see the test above) holds its socket forever.
    const app = await testApp();
    try {
      const http = app.server.server;
      console.log(
        `timeouts: requestTimeout ${http.requestTimeout} ms, connectionTimeout (socket) ${http.timeout} ms, ` +
          `headersTimeout ${http.headersTimeout} ms, keepAliveTimeout ${http.keepAliveTimeout} ms`,
      );
      expect(http.headersTimeout).toBeGreaterThan(0);
      expect
        .soft(http.requestTimeout, 'requestTimeout (0 = a slow body is never cut off)')
        .toBeGreaterThan(0);
      expect.soft(http.requestTimeout).toBeLessThanOrEqual(120_000);
      expect.soft(http.timeout, 'connectionTimeout (0 = an idle socket is never cut off)').toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });
});

/**
 * Streams a body (16 KB every 5 ms, up to 100 MB) after `head` on a raw socket until the server
 * answers; returns the status it answered with and how much had been sent by then. A raw socket,
 * because an HTTP client gives up on EPIPE before reading an answer sent while it was still writing.
 */
function streamBody(
  port: number,
  head: string,
  frame: (chunk: Buffer) => Buffer,
): Promise<{ status: number; sentBytes: number }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let sentBytes = 0;
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, sentBytes });
    };
    socket.on('data', (data) => {
      received += data.toString('latin1');
      if (received.includes('\r\n\r\n')) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.write(head);
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const tick = () => {
      if (socket.destroyed || sentBytes >= 100 * 1024 * 1024) return;
      sentBytes += chunk.length;
      socket.write(frame(chunk));
      timer = setTimeout(tick, 5);
    };
    tick();
  });
}

function sesSource(sources: Map<string, string>): string {
  for (const [id, provider] of sources) if (provider === 'ses') return id;
  return 'none';
}
