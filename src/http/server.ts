import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import { MailhookError } from '../errors.js';
import { type ConnectionCounts, ConnectionGuard } from './connection-guard.js';
import type { HttpLimits } from './limits.js';

export type { ConnectionCounts } from './connection-guard.js';
export { type HttpLimits, httpLimitsOf, readOpenFileLimit } from './limits.js';

/** The Node HTTP server under Fastify: its limits, its connection cap and `Expect: 100-continue`. */
export interface HttpFront {
  /** Fastify's `serverFactory` option. */
  serverFactory: FastifyServerFactory;
  /**
   * A `preParsing` hook. A request with `Expect: 100-continue` is asked for its body only once its
   * route is known and the announced length is within that route's body limit; otherwise it is
   * answered 413 before it sends anything (Node would say `100 Continue` to every request).
   */
  expectContinue: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Closes the connections being closed at once: the server is stopping. */
  destroyClosing(): void;
  counts(): ConnectionCounts;
}

export function httpFront(limits: HttpLimits): HttpFront {
  const guard = new ConnectionGuard(limits);
  const awaitingContinue = new WeakSet<IncomingMessage>();

  const serverFactory: FastifyServerFactory = (handler) => {
    const dispatch = (req: IncomingMessage, res: ServerResponse) => {
      if (guard.requestStarted(req, res)) handler(req, res);
    };
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: limits.timeoutCheckMs,
      },
      dispatch,
    );
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.setTimeout(limits.socketIdleMs);
    server.maxConnections = limits.socketCeiling;
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      awaitingContinue.add(req);
      dispatch(req, res);
    });
    admitThroughGuard(server, guard);
    return server;
  };

  return {
    serverFactory,
    async expectContinue(request, reply) {
      if (!awaitingContinue.delete(request.raw)) return;
      const announced = Number(request.headers['content-length']);
      if (announced > request.routeOptions.bodyLimit) throw new MailhookError('MH_ERR_PAYLOAD_TOO_LARGE');
      reply.raw.writeContinue();
    },
    destroyClosing: () => guard.destroyClosing(),
    counts: () => guard.counts(),
  };
}

/**
 * Puts the guard in front of Node's own connection handler (the HTTP parser), so a connection the
 * server has no room for is answered 503 without ever being parsed.
 */
function admitThroughGuard(server: Server, guard: ConnectionGuard): void {
  const listeners = server.listeners('connection');
  const parse = listeners[0];
  if (listeners.length !== 1 || !parse) {
    throw new Error(`expected Node's one HTTP connection listener, found ${listeners.length}`);
  }
  server.removeListener('connection', parse as (socket: Socket) => void);
  server.on('connection', (socket: Socket) => {
    if (guard.admit(socket)) parse.call(server, socket);
  });
}
