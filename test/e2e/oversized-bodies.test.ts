import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/**
 * Bodies over the limit against a real server: a client that asks first (`Expect: 100-continue`) is
 * refused before it sends anything, and one that just posts can read its 413 instead of a reset.
 */

const SIX_MB = 6 * 1024 * 1024;
let app: TestApp | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listening(env: Record<string, string> = {}): Promise<{ app: TestApp; port: number }> {
  app = await testApp(env);
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  if (typeof address !== 'object' || !address) throw new Error('not listening');
  return { app, port: address.port };
}

interface Outcome {
  status: number;
  body: string;
  /** Whether the server said `100 Continue`. */
  continued: boolean;
  /** Body bytes the client had handed to its socket when the answer came. */
  sentBytes: number;
  error?: string;
}

/** POSTs `size` bytes with node:http, waiting for `100 Continue` first when `expectContinue`. */
function post(
  port: number,
  path: string,
  size: number,
  expectContinue: boolean,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    let continued = false;
    let sentBytes = 0;
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(size),
        ...(expectContinue && { expect: '100-continue' }),
      },
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const send = () => {
      // Written in chunks, as a real upload is, so the answer can arrive while it is still going on.
      const write = () => {
        while (sentBytes < size) {
          const piece = chunk.subarray(0, Math.min(chunk.length, size - sentBytes));
          sentBytes += piece.length;
          if (!req.write(piece)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    };
    req.on('continue', () => {
      continued = true;
      send();
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        body += text;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, continued, sentBytes });
        req.destroy();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', continued, sentBytes, error: err.code ?? err.message }),
    );
    if (!expectContinue) send();
    else req.flushHeaders();
  });
}

describe('request bodies over the limit', () => {
  it('answers 413 to a 6 MB ingest post with Expect: 100-continue before the body is sent', async () => {
    const { port } = await listening();
    const outcome = await post(port, '/ingest/src_00000000000000000000000000', SIX_MB, true);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe(413);
    expect(JSON.parse(outcome.body)).toMatchObject({ code: 'MH_ERR_PAYLOAD_TOO_LARGE' });
    expect(outcome.continued, 'the server must not ask for the body').toBe(false);
    expect(outcome.sentBytes).toBe(0);
  });

  it('uses the route own limit to decide: 2 MB may continue to ingest but not to /v1/sources', async () => {
    const { port } = await listening();
    const ingest = await post(port, '/ingest/src_00000000000000000000000000', 2 * 1024 * 1024, true);
    // Continued and read in full; the (unknown) source is only looked up once the body is in.
    expect(ingest).toMatchObject({ continued: true, status: 404, sentBytes: 2 * 1024 * 1024 });
    const api = await post(port, '/v1/sources', 2 * 1024 * 1024, true, AUTH);
    expect(api).toMatchObject({ continued: false, status: 413, sentBytes: 0 });
  });

  it('lets a client that posts 6 MB without asking, and reads only once it has sent it all, read its 413', async () => {
    const { port } = await listening();
    for (let i = 0; i < 3; i++) {
      const outcome = await sendAllThenRead(port, '/ingest/src_00000000000000000000000000', SIX_MB);
      expect(outcome.error, `attempt ${i + 1}`).toBeUndefined();
      expect(outcome.sentBytes).toBe(SIX_MB);
      expect(outcome.head).toMatch(/^HTTP\/1\.1 413 /);
      expect(outcome.head).toMatch(/\r\nconnection: close\r\n/i);
      expect(JSON.parse(outcome.body)).toMatchObject({ code: 'MH_ERR_PAYLOAD_TOO_LARGE' });
    }
  });

  it('also lets a client that reads while it sends read its 413', async () => {
    const { port } = await listening();
    const outcome = await post(port, '/ingest/src_00000000000000000000000000', SIX_MB, false);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe(413);
  });
});

/**
 * A raw client that writes its whole request before it reads anything, as many simple HTTP clients
 * do. A server that closes while the body is still arriving resets the connection: the write fails
 * (EPIPE) and the answer already sent is never read.
 */
function sendAllThenRead(
  port: number,
  path: string,
  size: number,
): Promise<{ head: string; body: string; sentBytes: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    let received = '';
    let sentBytes = 0;
    let error: string | undefined;
    socket.on('data', (data) => {
      received += data.toString('latin1');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      const split = received.indexOf('\r\n\r\n');
      resolve({
        head: split < 0 ? received : received.slice(0, split + 2),
        body: split < 0 ? '' : received.slice(split + 4),
        sentBytes,
        ...(error && { error }),
      });
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const write = () => {
      while (sentBytes < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sentBytes));
        if (!socket.write(piece)) {
          sentBytes += piece.length;
          return void socket.once('drain', write);
        }
        sentBytes += piece.length;
      }
      // Everything is out: now read the answer (and the server's end of the connection).
      socket.resume();
      socket.end();
    };
    write();
  });
}
