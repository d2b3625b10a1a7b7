import type { CanonicalEvent } from '../events.js';
import type { ClaimedDelivery, EndpointRecord, NewDelivery } from './delivery-types.js';
import { eventBody } from './event-body.js';

/** A delivery created already leased to one worker: who holds it and until when (ms). */
export interface Lease {
  owner: string;
  expiresAt: number;
}

/**
 * Hands the deliveries a transaction creates straight to this node's delivery worker, so fresh
 * events go out without a claim transaction (issue 16). The store asks `reserve` inside the
 * transaction for each fan-out delivery; a delivery it leases is written with that lease, so after a
 * crash it is recovered like any claimed delivery (lease expiry, or `releaseAllLeases` at start on a
 * single node). Once the transaction has committed the store calls `accept` with what it leased; if
 * it rolled back, `release`, and nothing was written.
 */
export interface DeliveryHandOff {
  /**
   * True while the worker has attempts in flight: the thread it shares with the store then has
   * better things to do than wait for an fsync (SqliteStore.appendInbox syncs after the commit).
   */
  busy(): boolean;
  reserve(endpoint: EndpointRecord, now: number): Lease | null;
  accept(items: ClaimedDelivery[]): void;
  release(items: ClaimedDelivery[]): void;
}

/** The deliveries of one transaction that were leased at creation, to hand over once it commits. */
export class HandedDeliveries {
  readonly items: ClaimedDelivery[] = [];
  private readonly leases = new Map<string, Lease>();

  constructor(readonly handOff: DeliveryHandOff) {}

  /** Leases `delivery` to the worker when it can take it now; returns the lease to write, or null. */
  offer(delivery: NewDelivery, event: CanonicalEvent, endpoint: EndpointRecord, now: number): Lease | null {
    if (endpoint.status !== 'active') return null;
    const lease = this.handOff.reserve(endpoint, now);
    if (lease === null) return null;
    this.items.push({
      delivery: {
        id: delivery.id,
        eventId: delivery.eventId,
        endpointId: endpoint.id,
        origin: delivery.origin,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: delivery.nextAttemptAt,
        lastStatus: null,
        lastError: null,
        createdAt: new Date(now),
        updatedAt: new Date(now),
        completedAt: null,
      },
      endpoint,
      payload: eventBody(event),
      leaseOwner: lease.owner,
    });
    this.leases.set(delivery.id, lease);
    return lease;
  }

  /** The lease to write with a delivery, if it was handed off. */
  leaseOf(deliveryId: string): Lease | null {
    return this.leases.get(deliveryId) ?? null;
  }

  /**
   * Runs the transaction `write`; hands over what it leased once it has committed, gives it back if
   * not. `write` may return a promise (PostgreSQL's transactions): the hand-over then waits for it.
   */
  static around<T>(handOff: DeliveryHandOff | undefined, write: (handed: HandedDeliveries | null) => T): T {
    if (!handOff) return write(null);
    const handed = new HandedDeliveries(handOff);
    const giveBack = (err: unknown): never => {
      handOff.release(handed.items);
      throw err;
    };
    const handOver = <R>(result: R): R => {
      if (handed.items.length > 0) handOff.accept(handed.items);
      return result;
    };
    let result: T;
    try {
      result = write(handed);
    } catch (err) {
      return giveBack(err);
    }
    return result instanceof Promise ? (result.then(handOver, giveBack) as T) : handOver(result);
  }
}

/**
 * Holds what a transaction leased until its commit is durable (SQLite's ingest commit, whose sync
 * runs after it: sqlite/wal-sync.ts), so no delivery goes out for an event a power cut could still
 * take back.
 */
export class DeferredHandOff implements DeliveryHandOff {
  private held: ClaimedDelivery[] = [];

  constructor(private readonly inner: DeliveryHandOff) {}

  busy(): boolean {
    return this.inner.busy();
  }

  reserve(endpoint: EndpointRecord, now: number): Lease | null {
    return this.inner.reserve(endpoint, now);
  }

  accept(items: ClaimedDelivery[]): void {
    this.held.push(...items);
  }

  release(items: ClaimedDelivery[]): void {
    this.inner.release(items);
  }

  /** The commit is durable: start what it leased. */
  start(): void {
    const items = this.held.splice(0);
    if (items.length > 0) this.inner.accept(items);
  }

  /**
   * The commit could not be made durable: the worker gives back its reservations, and the rows keep
   * their lease until it expires (or a restart releases it), so nothing is sent twice.
   */
  abandon(): void {
    this.inner.release(this.held.splice(0));
  }
}

/**
 * Each traced row's W3C traceparent (InboxInsert.trace) by inbox id, or null when no row has one
 * (tracing off): the stores then skip the stamping below altogether.
 */
export function tracesOf(rows: ReadonlyArray<{ id: string; trace?: string }>): Map<string, string> | null {
  let traces: Map<string, string> | null = null;
  for (const row of rows) {
    if (!row.trace) continue;
    traces ??= new Map();
    traces.set(row.id, row.trace);
  }
  return traces;
}

/**
 * Gives the deliveries queued for one event since `from` (fan-out and, when handed off, the worker's
 * items) the trace of the row the event came from, so their attempts join the ingest request's trace.
 */
export function stampTrace(
  fanOut: NewDelivery[],
  handed: HandedDeliveries | null | undefined,
  from: { fanOut: number; handed: number },
  trace: string,
): void {
  for (let i = from.fanOut; i < fanOut.length; i++) (fanOut[i] as NewDelivery).trace = trace;
  if (handed)
    for (let i = from.handed; i < handed.items.length; i++)
      (handed.items[i] as ClaimedDelivery).trace = trace;
}
