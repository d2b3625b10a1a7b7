import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';

/**
 * What the HTTP server lets clients hold, as data. Each limit protects one resource: file
 * descriptors (the connection cap), and sockets held by clients that are slow or say nothing (the
 * timeouts). The numbers are derived here, from the configuration and the open-file limit, and
 * unit-tested without a server.
 */
export interface HttpLimits {
  /**
   * Connections admitted at once. A new one past it closes the least recently active idle one (no
   * request in progress); when every admitted connection is busy, the new one is answered 503.
   */
  maxConnections: number;
  /**
   * Node's own ceiling (`server.maxConnections`): the admitted ones plus those being closed. Past it
   * Node closes a new connection unanswered; it only bounds file descriptors in a flood.
   */
  socketCeiling: number;
  /** From a connection's opening (or a request's first byte) to the end of its headers. */
  headersTimeoutMs: number;
  /** From a request's first byte to the end of its body. */
  requestTimeoutMs: number;
  /** How long a keep-alive connection may sit idle between requests. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the two timeouts above (its default of 30 s made idle sockets live ~60 s). */
  timeoutCheckMs: number;
  /** A socket with no traffic either way for this long is closed, whatever it is doing. */
  socketIdleMs: number;
  /**
   * A connection being closed with a request body still arriving is read from (and the bytes
   * dropped) for up to this long, so a client still sending reads its answer rather than a reset.
   */
  lingerMs: number;
  /** The configured cap when it was lowered to fit the open-file limit, else null. */
  loweredFrom: number | null;
}

/** The slowest upload a request body is given time for: 2 Mbit/s. */
const MIN_UPLOAD_BYTES_PER_SEC = 256 * 1024;
const MIN_REQUEST_TIMEOUT_MS = 30_000;
const SOCKET_IDLE_MS = 60_000;
const LINGER_MS = 5_000;
/** Descriptors kept for everything but client connections: the database files, worker threads, logs, DNS. */
const RESERVED_FDS = 256;
/** Each delivery in flight may hold a socket, and the pool keeps some idle: two per slot. */
const FDS_PER_DELIVERY = 2;
/** Room for connections being closed (answered 503, lingering) above the admitted ones. */
const CLOSING_SHARE = 0.1;
const MIN_CLOSING_ROOM = 32;
/** When the open-file limit forces the cap down, it never goes below this. */
const MIN_LOWERED_CAP = 32;

function closingRoom(admitted: number): number {
  return Math.max(MIN_CLOSING_ROOM, Math.ceil(admitted * CLOSING_SHARE));
}

export function httpLimitsOf(
  config: Pick<
    Config,
    'maxConnections' | 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'maxBodyBytes' | 'deliveryConcurrency'
  >,
  openFileLimit: number | null,
): HttpLimits {
  let maxConnections = config.maxConnections;
  let loweredFrom: number | null = null;
  if (openFileLimit !== null) {
    // Reaching the open-file limit makes accept() fail, and the kernel resets every new connection,
    // ingest included; the cap must bite first, with room left for the process's other files.
    const budget = openFileLimit - RESERVED_FDS - FDS_PER_DELIVERY * config.deliveryConcurrency;
    if (maxConnections + closingRoom(maxConnections) > budget) {
      const fitting = Math.max(MIN_LOWERED_CAP, Math.floor(budget / (1 + CLOSING_SHARE)) - MIN_CLOSING_ROOM);
      if (fitting < maxConnections) {
        loweredFrom = maxConnections;
        maxConnections = fitting;
      }
    }
  }
  // Node refuses a headers timeout above the request timeout; the largest ingest body must fit in
  // the request timeout at the slowest upload speed we mean to serve.
  const uploadMs = Math.ceil((config.maxBodyBytes / MIN_UPLOAD_BYTES_PER_SEC) * 1000);
  const requestTimeoutMs = Math.max(MIN_REQUEST_TIMEOUT_MS, uploadMs, config.headersTimeoutMs);
  return {
    maxConnections,
    socketCeiling: maxConnections + closingRoom(maxConnections),
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    timeoutCheckMs: Math.min(1000, Math.max(25, Math.floor(config.headersTimeoutMs / 10))),
    socketIdleMs: Math.max(SOCKET_IDLE_MS, config.keepAliveTimeoutMs),
    lingerMs: LINGER_MS,
    loweredFrom,
  };
}

/**
 * The soft limit on open files (Node raises it to the hard limit at start), read from
 * /proc/self/limits; null where that file does not exist (macOS) or says "unlimited".
 */
export function readOpenFileLimit(path = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const match = /^Max open files\s+(\d+)\s/m.exec(text);
  return match ? Number(match[1]) : null;
}
