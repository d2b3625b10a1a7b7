/**
 * The outbound HTTP client for deliveries. One undici Agent keeps a keep-alive pool per endpoint
 * origin; its connect-time DNS lookup is wrapped by the SSRF guard so the check runs on the address
 * the socket actually connects to — a name that resolves to a public address when the endpoint is
 * saved and to 10.0.0.1 at delivery time (DNS rebinding) is still refused.
 */

import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { defaultLookup, isForbiddenAddress, isLocalhostName, type Lookup } from './ssrf.js';

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export type DeliveryErrorClass =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'forbidden_address'
  | 'other';

export type DeliveryResponse =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      bodySnippet: string;
      durationMs: number;
    }
  | { kind: 'error'; errorClass: DeliveryErrorClass; message: string; durationMs: number };

/** Receivers' bodies are only kept for display; 1 KiB is enough to show an error message. */
const SNIPPET_BYTES = 1024;
/** Past this much unread body it is cheaper to drop the connection than to drain it for reuse. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
const FORBIDDEN_CODE = 'ERR_MAILHOOK_FORBIDDEN_ADDRESS';

export class DeliveryClient {
  readonly #agent: Agent;
  readonly #allowPrivate: boolean;
  readonly #userAgent: string;

  constructor(opts: { allowPrivate: boolean; lookup?: Lookup; connections?: number; userAgent: string }) {
    this.#allowPrivate = opts.allowPrivate;
    this.#userAgent = opts.userAgent;
    this.#agent = new Agent({
      connections: opts.connections ?? 50,
      connect: { lookup: guardedLookup(opts.lookup ?? defaultLookup, opts.allowPrivate) },
    });
  }

  async send(req: DeliveryRequest): Promise<DeliveryResponse> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);

    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { kind: 'error', errorClass: 'other', message: 'invalid URL', durationMs: elapsed() };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return {
        kind: 'error',
        errorClass: 'other',
        message: `unsupported scheme ${url.protocol}`,
        durationMs: elapsed(),
      };
    }
    // net.connect skips `lookup` for IP literals, so the connect-time guard never sees them.
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!this.#allowPrivate && isIP(literal) !== 0 && isForbiddenAddress(literal)) {
      return {
        kind: 'error',
        errorClass: 'forbidden_address',
        message: `${literal} is a private or reserved address`,
        durationMs: elapsed(),
      };
    }

    // One deadline for connect + headers + body; undici's own timeouts are per phase.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DeliveryTimeoutError(req.timeoutMs));
    }, req.timeoutMs);

    try {
      const res = await this.#agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: this.#headers(req.headers),
        body: req.body,
        signal: controller.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const bodySnippet = await readSnippet(res.body, SNIPPET_BYTES);
      // Draining (rather than destroying) the rest lets the socket go back to the pool.
      await res.body.dump({ limit: DRAIN_LIMIT_BYTES, signal: controller.signal });
      // undici hands a keep-alive socket back to its pool one event-loop turn after the body ends
      // (setImmediate in client-h1). Without this wait, a caller that sends again at once finds the
      // pool's only connection busy and opens a second one.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return {
        kind: 'response',
        status: res.statusCode,
        headers: flattenHeaders(res.headers),
        bodySnippet,
        durationMs: elapsed(),
      };
    } catch (err) {
      return {
        kind: 'error',
        errorClass: timedOut ? 'timeout' : classify(err),
        message: timedOut ? `no complete response within ${req.timeoutMs} ms` : describe(err),
        durationMs: elapsed(),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  #headers(given: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = {
      'user-agent': this.#userAgent,
      'content-type': 'application/json',
    };
    for (const [name, value] of Object.entries(given)) {
      // defineProperty: a custom header named __proto__ is sent, not taken as the object's prototype.
      Object.defineProperty(headers, name.toLowerCase(), {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return headers;
  }
}

class DeliveryTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * A `dns.lookup`-compatible function for net/tls.connect. It refuses when ANY address is forbidden
 * (not only the one picked), so the answer cannot depend on which address happy-eyeballs tries first.
 */
function guardedLookup(lookup: Lookup, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    const refuse = (address: string): void => {
      const err: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${address}, a forbidden address`);
      err.code = FORBIDDEN_CODE;
      callback(err, '');
    };
    if (!allowPrivate && isLocalhostName(hostname)) return refuse('this machine');
    lookup(hostname).then(
      (all) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const addresses = family === 4 || family === 6 ? all.filter((a) => a.family === family) : all;
        if (!allowPrivate) {
          const bad = all.find((a) => isForbiddenAddress(a.address));
          if (bad) return refuse(bad.address);
        }
        const first = addresses[0];
        if (!first) {
          const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          err.code = 'ENOTFOUND';
          return callback(err, '');
        }
        if (options.all) return callback(null, addresses);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

/** Reads up to `max` bytes, then leaves the stream paused so the caller can drain or drop the rest. */
function readSnippet(body: NodeJS.ReadableStream, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (): void => {
      body.off('data', onData);
      body.off('end', finish);
      body.off('error', onError);
      body.pause();
      // Decoding in stream mode drops a multi-byte character cut at the limit instead of showing U+FFFD.
      resolve(new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max), { stream: true }));
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      length += buf.length;
      if (length >= max) finish();
    };
    const onError = (err: Error): void => {
      body.off('data', onData);
      body.off('end', finish);
      reject(err);
    };
    body.on('data', onData);
    body.once('end', finish);
    body.once('error', onError);
  });
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'HOSTNAME_MISMATCH',
]);

function classify(err: unknown): DeliveryErrorClass {
  const codes = collectCodes(err);
  const has = (...wanted: string[]): boolean => wanted.some((c) => codes.includes(c));
  if (has(FORBIDDEN_CODE)) return 'forbidden_address';
  if (
    has(
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_BODY_TIMEOUT',
      'UND_ERR_CONNECT_TIMEOUT',
      'ETIMEDOUT',
      'AbortError',
    )
  ) {
    return 'timeout';
  }
  if (has('ECONNREFUSED')) return 'connection_refused';
  if (has('ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE')) return 'connection_reset';
  if (has('ENOTFOUND', 'EAI_AGAIN')) return 'dns';
  if (
    codes.some(
      (c) =>
        TLS_CODES.has(c) || c.startsWith('CERT_') || c.startsWith('ERR_TLS_') || c.startsWith('ERR_SSL_'),
    )
  ) {
    return 'tls';
  }
  return 'other';
}

/** Codes and names from the error, its causes and, for happy-eyeballs failures, each AggregateError member. */
function collectCodes(err: unknown, depth = 0): string[] {
  if (depth > 5 || typeof err !== 'object' || err === null) return [];
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  const own = [e.code, e.name].filter((v): v is string => typeof v === 'string');
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => collectCodes(x, depth + 1)) : [];
  return [...own, ...nested, ...collectCodes(e.cause, depth + 1)];
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const first = err instanceof AggregateError ? err.errors[0] : undefined;
  const message = err.message || (first instanceof Error ? first.message : err.name);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
