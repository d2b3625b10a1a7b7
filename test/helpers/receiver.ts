import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';

/**
 * A real HTTP receiver on 127.0.0.1 for end-to-end delivery tests. It records every request, checks
 * its Standard Webhooks signature against every secret it has been given with BOTH official
 * libraries (`standardwebhooks` and `svix`), and answers as told: a status sequence, a delay,
 * extra headers such as Retry-After.
 */

/** What one secret said about one request: true, or the library's error message. */
export interface SecretCheck {
  secret: string;
  standardwebhooks: true | string;
  svix: true | string;
}

export interface ReceivedRequest {
  /** 0-based position among all requests this receiver got. */
  index: number;
  /** 1-based position among the requests with the same webhook-id (the attempt as seen here). */
  nth: number;
  method: string;
  path: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  webhookId: string;
  /** `performance.now()` of this (test) process when the whole body had been read. */
  receivedAt: number;
  /** The status this receiver answered with, or null while it has not answered (or never could). */
  answeredStatus: number | null;
  answeredAt: number | null;
  /** True when the response was handed to the socket completely (the 'finish' event). */
  finished: boolean;
  /** True when the connection closed before an answer was written (the sender gave up or died). */
  abandoned: boolean;
  checks: SecretCheck[];
}

export interface Reply {
  status?: number;
  delayMs?: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Responder = (request: ReceivedRequest) => Reply;

export interface ReceiverOptions {
  /** Secrets to verify with; can also be set later through `receiver.secrets`. */
  secrets?: string[];
  /** How to answer each request; 200 at once by default. */
  respond?: Responder;
  /** Called synchronously right after an answer was written (e.g. to kill the sender at that moment). */
  onAnswered?: (request: ReceivedRequest) => void;
}

export interface Receiver {
  url: string;
  /** Every request so far, in arrival order. */
  readonly requests: ReceivedRequest[];
  /** Secrets every later request is verified with (replace or push freely). */
  secrets: string[];
  respond: Responder;
  onAnswered: ((request: ReceivedRequest) => void) | null;
  /** Requests received and neither answered nor abandoned yet. */
  inflight(): number;
  /** Requests with this webhook-id. */
  byId(webhookId: string): ReceivedRequest[];
  /** Distinct webhook-ids received so far. */
  ids(): Set<string>;
  /** Closes the server and every open connection, and cancels pending delayed answers. */
  close(): Promise<void>;
}

/** Answers with `statuses[nth - 1]` for each webhook-id (the last one repeats), after `delayMs`. */
export function statusSequence(
  statuses: number[],
  extra: { delayMs?: number; headers?: (status: number) => Record<string, string> } = {},
): Responder {
  return (request) => {
    const status = statuses[Math.min(request.nth, statuses.length) - 1] ?? 200;
    return {
      status,
      ...(extra.delayMs !== undefined && { delayMs: extra.delayMs }),
      ...(extra.headers && { headers: extra.headers(status) }),
    };
  };
}

/** Verifies one request with one secret using both official libraries. */
export function checkSignature(secret: string, body: string, headers: Record<string, string>): SecretCheck {
  const attempt = (verify: () => unknown): true | string => {
    try {
      verify();
      return true;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  return {
    secret,
    standardwebhooks: attempt(() => new StandardWebhook(secret).verify(body, headers)),
    svix: attempt(() => new SvixWebhook(secret).verify(body, headers)),
  };
}

/** True when at least one secret verified the request with both libraries. */
export function verifiedByBoth(request: ReceivedRequest): boolean {
  return request.checks.some((c) => c.standardwebhooks === true && c.svix === true);
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const perId = new Map<string, ReceivedRequest[]>();
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const headers = flatHeaders(req);
    const webhookId = headers['webhook-id'] ?? '';
    const sameId = perId.get(webhookId) ?? [];
    perId.set(webhookId, sameId);
    const record: ReceivedRequest = {
      index: requests.length,
      nth: sameId.length + 1,
      method: req.method ?? '',
      path: req.url ?? '',
      headers,
      body,
      webhookId,
      receivedAt: performance.now(),
      answeredStatus: null,
      answeredAt: null,
      finished: false,
      abandoned: false,
      checks: receiver.secrets.map((secret) => checkSignature(secret, body, headers)),
    };
    sameId.push(record);
    requests.push(record);
    pending++;

    let reply: Reply;
    try {
      reply = receiver.respond(record);
    } catch {
      reply = { status: 500 };
    }
    let done = false;
    const settle = (): void => {
      if (!done) {
        done = true;
        pending--;
      }
    };
    res.once('close', () => {
      if (record.answeredStatus === null) record.abandoned = true;
      settle();
    });
    res.once('finish', () => {
      record.finished = true;
    });
    const answer = (): void => {
      if (res.destroyed || req.socket.destroyed) {
        record.abandoned = true;
        settle();
        return;
      }
      const status = reply.status ?? 200;
      record.answeredStatus = status;
      record.answeredAt = performance.now();
      res.writeHead(status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? (status >= 200 && status < 300 ? 'ok' : `status ${status}`));
      settle();
      receiver.onAnswered?.(record);
    };
    if (reply.delayMs !== undefined && reply.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, reply.delayMs);
      timers.add(timer);
    } else {
      answer();
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => res.destroy());
  });
  // The sender's keep-alive pool must not keep a test's process alive.
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    secrets: [...(options.secrets ?? [])],
    respond: options.respond ?? (() => ({ status: 200 })),
    onAnswered: options.onAnswered ?? null,
    inflight: () => pending,
    byId: (webhookId) => perId.get(webhookId) ?? [],
    ids: () => new Set(requests.map((r) => r.webhookId)),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return receiver;
}
