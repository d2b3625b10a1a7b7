import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { MailhookError } from '../errors.js';

/** The whole answer to a connection the server has no room for, written before any request is read. */
const BUSY_BODY = JSON.stringify(new MailhookError('MH_ERR_TOO_MANY_CONNECTIONS').toJSON());
const BUSY_RESPONSE = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    'Retry-After: 1\r\n' +
    'Connection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(BUSY_BODY)}\r\n\r\n${BUSY_BODY}`,
  'latin1',
);

export interface ConnectionCounts {
  /** Admitted connections with no request in progress (never sent one, or between keep-alive requests). */
  idle: number;
  /** Admitted connections with a request in progress. */
  busy: number;
  /** Connections answered or refused and being closed (not admitted any more). */
  closing: number;
}

/**
 * Holds the number of client connections to a cap, so a flood of idle connections can neither use
 * up the file descriptors (when accept() fails, the kernel resets every new connection, ingest
 * included) nor lock everyone else out:
 *
 * - a new connection past the cap closes the least recently active *idle* one — a connection that
 *   sent nothing, or sits between keep-alive requests — so the flood evicts itself and a real client,
 *   which sends its request within a round trip, gets in;
 * - only when every admitted connection has a request in progress is the new one refused, with a
 *   503 (`Retry-After: 1`) rather than a reset;
 * - a connection is closed by reading and dropping what the client still sends (up to `lingerMs`)
 *   after the final answer, so a client that writes its whole body before reading gets the answer
 *   instead of a reset.
 */
export class ConnectionGuard {
  /** Least recently active first (a Set keeps insertion order; activity moves a socket to the end). */
  private readonly idle = new Set<Socket>();
  /** Requests in progress on each busy connection (more than one when pipelined). */
  private readonly busy = new Map<Socket, number>();
  private readonly closing = new Set<Socket>();

  constructor(private readonly limits: { maxConnections: number; lingerMs: number }) {}

  counts(): ConnectionCounts {
    return { idle: this.idle.size, busy: this.busy.size, closing: this.closing.size };
  }

  /** A new connection: true when it is admitted (handed to the HTTP parser), false when refused. */
  admit(socket: Socket): boolean {
    socket.once('close', () => this.forget(socket));
    if (this.idle.size + this.busy.size >= this.limits.maxConnections) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        this.refuse(socket);
        return false;
      }
      this.evict(oldest.value);
    }
    this.idle.add(socket);
    // Node ends a connection after a `Connection: close` answer with destroySoon(), which closes the
    // socket while a refused body may still be arriving: the kernel then resets the connection and
    // the client, still writing, never reads the answer. Closing by lingering avoids that.
    socket.destroySoon = () => this.close(socket);
    return true;
  }

  /** A request arrived on an admitted connection: false when the connection is being closed. */
  requestStarted(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket;
    if (!this.idle.has(socket) && !this.busy.has(socket)) {
      // Pipelined after the answer that closes the connection: read and dropped, not answered.
      req.resume();
      return false;
    }
    this.idle.delete(socket);
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
    res.once('close', () => this.requestFinished(socket));
    return true;
  }

  /** Ends every connection being closed at once (the server is shutting down). */
  destroyClosing(): void {
    for (const socket of this.closing) socket.destroy();
  }

  private requestFinished(socket: Socket): void {
    const count = this.busy.get(socket);
    if (count === undefined) return;
    if (count > 1) {
      this.busy.set(socket, count - 1);
      return;
    }
    this.busy.delete(socket);
    if (!socket.destroyed) this.idle.add(socket);
  }

  private evict(socket: Socket): void {
    if (socket.bytesRead === 0 && socket.bytesWritten === 0) {
      // Opened and silent: told why, then closed as soon as the answer is out. Nothing was sent, so
      // there is nothing unread that would turn the close into a reset.
      this.idle.delete(socket);
      this.closing.add(socket);
      socket.end(BUSY_RESPONSE, () => socket.destroy());
      return;
    }
    // Part of a request (no answer yet: tell it why), or idle between keep-alive requests (closing
    // it is what the keep-alive timeout would do); either way the client may still be sending.
    if (socket.bytesWritten === 0) socket.write(BUSY_RESPONSE);
    this.close(socket);
  }

  private refuse(socket: Socket): void {
    // Not handed to the HTTP server, which would otherwise handle its errors (a reset by the client).
    socket.on('error', () => {});
    // Never handed to the HTTP parser: what the client sends is read and dropped.
    socket.resume();
    socket.write(BUSY_RESPONSE);
    this.close(socket);
  }

  /** Ends our side, keeps reading until the client ends its side or `lingerMs` passes, then closes. */
  private close(socket: Socket): void {
    this.idle.delete(socket);
    this.busy.delete(socket);
    if (socket.destroyed || this.closing.has(socket)) return;
    this.closing.add(socket);
    socket.end();
    // Once the client has ended its side nothing is left to read, so closing cannot reset; what we
    // wrote is flushed first. (A client that sent its request and ended at once has already ended.)
    const destroyWhenFlushed = () => {
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    };
    if (socket.readableEnded) {
      destroyWhenFlushed();
      return;
    }
    socket.once('end', destroyWhenFlushed);
    const timer = setTimeout(() => socket.destroy(), this.limits.lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private forget(socket: Socket): void {
    this.idle.delete(socket);
    this.busy.delete(socket);
    this.closing.delete(socket);
  }
}
