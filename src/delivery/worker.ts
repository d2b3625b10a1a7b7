import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { newId } from '../ids.js';
import type { AttemptMetric } from '../monitoring/metrics.js';
import { isSystemPayload } from '../monitoring/system-events.js';
import type { DeliveryHandOff, Lease } from '../store/hand-off.js';
import type {
  AttemptResult,
  ClaimedDelivery,
  EndpointRecord,
  EndpointTransition,
  Store,
} from '../store/store.js';
import { endAttemptSpan, startAttemptSpan } from '../tracing/spans.js';
import { activeTracer } from '../tracing/tracing.js';
import { type Contender, fairSlots, reserveFor } from './fair-share.js';
import type { DeliveryRequest, DeliveryResponse } from './http-client.js';
import { EndpointLimits } from './limits.js';
import { type AttemptOutcome, nextAttempt, type RetryPolicy, shouldAutoDisable } from './schedule.js';
import { webhookHeaders } from './sign.js';

export interface Sender {
  send(request: DeliveryRequest): Promise<DeliveryResponse>;
}

export interface DeliveryWorkerOptions {
  store: Store;
  sender: Sender;
  logger: Logger;
  policy: RetryPolicy;
  timeoutMs: number;
  /** Nothing but failures for this long disables an endpoint; 0 never does. */
  disableAfterMs: number;
  /** Deliveries in flight at once, across all endpoints. */
  concurrency: number;
  userAgent: string;
  pollMs?: number;
  now?: () => Date;
  random?: () => number;
  /** Consecutive failures after which an endpoint counts as failing. */
  failingAfter?: number;
  /** Endpoint health transitions caused by recorded attempts (become system.* events). */
  onTransitions?: (transitions: EndpointTransition[]) => Promise<void> | void;
  /** Every recorded attempt, for metrics. */
  onAttempts?: (attempts: AttemptMetric[]) => void;
}

const SNIPPET_MAX = 1024;
/** Writes of a batch of results before it is given up: pauses of 0.25, 0.5, 1 and 2 s between them. */
const RECORD_TRIES = 5;

const ATTEMPT_OUTCOMES = { succeeded: 'succeeded', pending: 'retrying', failed: 'failed' } as const;

/**
 * Claims due deliveries under a lease, sends them, and records each attempt with its outcome.
 * Every endpoint has its own concurrency cap and rate limit, and the pool is divided fairly among
 * the endpoints with work, with a part kept free for the next one: a slow or stuck endpoint holds
 * only its own slots and never the others'. Results are written in small groups.
 */
export class DeliveryWorker implements DeliveryHandOff {
  private readonly o: Required<
    Omit<DeliveryWorkerOptions, 'now' | 'random' | 'pollMs' | 'failingAfter' | 'onTransitions' | 'onAttempts'>
  > & {
    now: () => Date;
    random: () => number;
    pollMs: number;
    failingAfter: number;
    onTransitions: DeliveryWorkerOptions['onTransitions'];
    onAttempts: DeliveryWorkerOptions['onAttempts'];
  };
  /**
   * Deliveries of system events among the results not yet written: their exhaustion raises nothing
   * (no feedback loop). Held only until their batch is handled or given up.
   */
  private readonly systemDeliveries = new Set<string>();
  readonly owner = `w_${randomBytes(6).toString('hex')}`;
  private readonly limits = new EndpointLimits();
  private readonly inflight = new Set<Promise<void>>();
  private pending: AttemptResult[] = [];
  private flushing: Promise<void> | null = null;
  /** Results in the transaction being written now. */
  private recording = 0;
  /** Slots granted to a claim that has not returned yet. */
  private claiming = 0;
  /** Writes of results that failed in a row. */
  private recordFailures = 0;
  /** A claim found the pool held by results not yet recorded: their flush wakes the loop. */
  private waitingForRecords = false;
  /** A claim found slots reserved by running transactions: a rollback that frees them wakes the loop. */
  private waitingForReservations = false;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private wakeRequested = false;
  private wakeScheduled = false;
  /** Hand-off slots promised to transactions not yet committed, in all and by endpoint. */
  private reserved = 0;
  private readonly reservedFor = new Map<string, number>();
  /**
   * Endpoints that may have due deliveries waiting in the store (the last claim filled their grant,
   * or a fresh delivery was left for the claim): fresh ones must not overtake those, so they are not
   * handed off until a claim finds the endpoint drained.
   */
  private readonly backlogged = new Set<string>();
  /** The earliest retry this worker scheduled: the loop wakes for it rather than waiting a full poll. */
  private earliestRetryAt = Number.POSITIVE_INFINITY;
  /** Attempts made and their outcomes, for metrics and tests. */
  readonly stats = { attempts: 0, succeeded: 0, failed: 0, retried: 0, handedOff: 0 };

  constructor(options: DeliveryWorkerOptions) {
    this.o = {
      ...options,
      now: options.now ?? (() => new Date()),
      random: options.random ?? Math.random,
      pollMs: options.pollMs ?? 500,
      failingAfter: options.failingAfter ?? 5,
      onTransitions: options.onTransitions,
      onAttempts: options.onAttempts,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming, lets the attempts in flight finish and records them. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.idle();
  }

  wake(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /**
   * A transaction created deliveries. Those this worker took at creation are already running; a
   * claim is needed only if some were left in the store (an endpoint backlogged or at its limits).
   */
  wakeForFresh(): void {
    if (this.backlogged.size > 0 || !this.running) this.wake();
  }

  /**
   * A finished attempt frees a slot; waking after this turn of the event loop lets the other
   * attempts finishing in it share one claim transaction. (Waiting 2 ms instead gathered more per
   * claim but left slots idle: a backlog to one endpoint drained at 6,000/s rather than 10,000/s.)
   */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake();
    });
  }

  /** Resolves when nothing is in flight and every result is recorded. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.pending.length > 0 || this.flushing) {
      if (this.inflight.size > 0) await Promise.race(this.inflight);
      await this.flush();
    }
  }

  /**
   * Claims what is due now and can start now, and starts sending it; returns how many were started.
   * The pool is shared fairly (fair-share.ts): no endpoint takes more than its part while others have
   * due work, and a part of the pool stays free for the next endpoint that has work, so endpoints
   * whose attempts hang cannot take every slot.
   */
  async dispatch(): Promise<number> {
    const pool = this.o.concurrency;
    // Slots reserved by a transaction still running (PostgreSQL's are asynchronous) are taken.
    const free = pool - this.held();
    if (free <= 0) {
      this.waitingForRecords = this.unrecorded() > 0;
      this.waitingForReservations = this.reserved > 0;
      return 0;
    }
    const now = this.o.now();
    const nowMs = now.getTime();
    let grants = new Map<string, number>();
    let dueIds: string[] = [];
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.o.store.claimDueDeliveries({
        owner: this.owner,
        now,
        leaseMs: this.leaseMs(),
        limit: free,
        plan: (due) => {
          dueIds = due.map((endpoint) => endpoint.id);
          grants = fairSlots(pool, this.contenders(due, nowMs), this.o.random);
          // Hand-offs may have taken slots while the claim waited (SQLite: for the WAL's sync): the
          // grants fit what is free now, and count as held until the claimed rows are in flight.
          const granted = [...grants.values()].reduce((sum, n) => sum + n, 0);
          this.claiming = trimToFree(grants, dueIds, pool - this.held());
          if (this.claiming < granted && this.reserved > 0) this.waitingForReservations = true;
        },
        slots: (endpoint) => grants.get(endpoint.id) ?? 0,
      });
    } finally {
      this.claiming = 0;
    }
    this.noteBacklog(dueIds, grants, claimed);
    for (const item of claimed) this.launch(item, nowMs);
    return claimed.length;
  }

  /** An endpoint whose claim filled its grant may have more due: it is backlogged until one does not. */
  private noteBacklog(dueIds: string[], grants: Map<string, number>, claimed: ClaimedDelivery[]): void {
    const taken = new Map<string, number>();
    for (const item of claimed) taken.set(item.endpoint.id, (taken.get(item.endpoint.id) ?? 0) + 1);
    for (const id of dueIds) {
      if ((taken.get(id) ?? 0) >= (grants.get(id) ?? 0)) this.backlogged.add(id);
      else this.backlogged.delete(id);
    }
  }

  private launch(item: ClaimedDelivery, nowMs: number): void {
    this.limits.take(item.endpoint, nowMs);
    const task = this.attempt(item)
      .catch((err: unknown) => {
        // Not a failed send (those are recorded): a bug around it. The process and every other
        // attempt go on; if its result was not recorded yet, the delivery goes out again when its
        // lease expires.
        this.o.logger.error({ err, deliveryId: item.delivery.id }, 'delivery attempt failed unexpectedly');
      })
      .finally(() => {
        this.inflight.delete(task);
        this.limits.done(item.endpoint.id);
        this.wakeSoon();
      });
    this.inflight.add(task);
  }

  /** DeliveryHandOff: attempts are in flight. */
  busy(): boolean {
    return this.inflight.size > 0;
  }

  /**
   * DeliveryHandOff: takes a fresh delivery at its creation when it could start now without a claim
   * — the endpoint has no older due delivery waiting, is within its own limits, and below an equal
   * part of the pool that leaves the fair-share reserve free; otherwise the claim deals with it.
   */
  reserve(endpoint: EndpointRecord, now: number): Lease | null {
    if (!this.running) return null;
    if (this.backlogged.has(endpoint.id)) return null;
    const mine = this.heldBy(endpoint.id);
    const busy = this.limits.busy().size + (this.limits.busy().has(endpoint.id) ? 0 : 1);
    const pool = this.o.concurrency;
    const capacity = pool - reserveFor(pool, busy);
    const part = Math.max(1, Math.floor(capacity / busy));
    const refused =
      this.held() >= capacity ||
      mine >= part ||
      this.limits.slots(endpoint, now) - (this.reservedFor.get(endpoint.id) ?? 0) <= 0;
    if (refused) {
      // This one waits in the store: later fresh ones to the same endpoint must not overtake it.
      this.backlogged.add(endpoint.id);
      return null;
    }
    this.reserved++;
    this.reservedFor.set(endpoint.id, (this.reservedFor.get(endpoint.id) ?? 0) + 1);
    return { owner: this.owner, expiresAt: now + this.leaseMs() };
  }

  /** DeliveryHandOff: the transaction committed; start what it leased to this worker. */
  accept(items: ClaimedDelivery[]): void {
    // Stopped meanwhile (a hand-off held for its commit's sync): the rows keep their lease, which a
    // restart releases, rather than attempts starting that could no longer be recorded.
    if (!this.running) {
      this.release(items);
      return;
    }
    const nowMs = this.o.now().getTime();
    for (const item of items) {
      this.unreserve(item.endpoint.id);
      this.stats.handedOff++;
      this.launch(item, nowMs);
    }
  }

  /**
   * DeliveryHandOff: the transaction rolled back (or its sync failed); nothing it reserved will start.
   * A claim skipped because these slots were taken runs now rather than at the next poll.
   */
  release(items: ClaimedDelivery[]): void {
    for (const item of items) this.unreserve(item.endpoint.id);
    if (items.length > 0 && this.waitingForReservations) {
      this.waitingForReservations = false;
      this.wakeSoon();
    }
  }

  private unreserve(endpointId: string): void {
    this.reserved = Math.max(0, this.reserved - 1);
    const left = (this.reservedFor.get(endpointId) ?? 1) - 1;
    if (left <= 0) this.reservedFor.delete(endpointId);
    else this.reservedFor.set(endpointId, left);
  }

  private leaseMs(): number {
    return this.o.timeoutMs + 30_000;
  }

  /**
   * The endpoints with due deliveries and those with attempts in flight here; a delivery reserved by
   * a transaction not yet committed counts as in flight.
   */
  private contenders(due: readonly EndpointRecord[], nowMs: number): Contender[] {
    const contenders: Contender[] = due.map((endpoint) => ({
      endpointId: endpoint.id,
      inflight: this.heldBy(endpoint.id),
      room: Math.max(0, this.limits.slots(endpoint, nowMs) - (this.reservedFor.get(endpoint.id) ?? 0)),
    }));
    const seen = new Set(due.map((endpoint) => endpoint.id));
    for (const endpointId of [...this.limits.busy().keys(), ...this.reservedFor.keys()]) {
      if (seen.has(endpointId)) continue;
      seen.add(endpointId);
      contenders.push({ endpointId, inflight: this.heldBy(endpointId), room: 0 });
    }
    return contenders;
  }

  /**
   * The pool's slots taken: attempts in flight, deliveries reserved by a running transaction, the
   * grants of a claim not yet returned, and attempts that ended but whose results are not recorded
   * yet. Those stay leased to this node, so a crash sends them again: counting them keeps what a crash
   * can send twice within the pool, even when recording falls behind sending (on PostgreSQL, 1,173 in
   * one test before this bound).
   */
  private held(): number {
    return this.inflight.size + this.reserved + this.unrecorded() + this.claiming;
  }

  private unrecorded(): number {
    return this.pending.length + this.recording;
  }

  /** Attempts in flight to the endpoint, and deliveries to it reserved by a running transaction. */
  private heldBy(endpointId: string): number {
    return this.limits.inflightOf(endpointId) + (this.reservedFor.get(endpointId) ?? 0);
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      let started = 0;
      try {
        started = await this.dispatch();
      } catch (err) {
        this.o.logger.error({ err }, 'claiming deliveries failed; will retry');
      }
      if (!this.running) break;
      if (started > 0 && this.held() < this.o.concurrency) continue;
      const untilRetry = this.earliestRetryAt - this.o.now().getTime();
      this.earliestRetryAt = Number.POSITIVE_INFINITY;
      await this.sleep(Math.max(10, Math.min(this.o.pollMs, untilRetry)));
    }
  }

  private async attempt(item: ClaimedDelivery): Promise<void> {
    const { delivery, endpoint, payload } = item;
    const startedAt = this.o.now();
    let headers: Record<string, string>;
    try {
      headers = webhookHeaders({
        id: delivery.eventId,
        timestamp: Math.floor(startedAt.getTime() / 1000),
        body: payload,
        secrets: activeSecrets(endpoint, startedAt),
        userAgent: this.o.userAgent,
        extra: endpoint.headers,
      });
    } catch (err) {
      // Nothing is sent (no secret left to sign with, say), but the attempt is recorded and the
      // retry policy applies: left leased, the delivery would come back after every lease, forever.
      const message = `not sent: ${err instanceof Error ? err.message : String(err)}`;
      this.record(item, startedAt, { kind: 'error', errorClass: 'other', message, durationMs: 0 });
      return;
    }
    const tracer = activeTracer();
    const span = tracer ? startAttemptSpan(tracer, item, headers) : null;
    let response: DeliveryResponse;
    try {
      response = await this.o.sender.send({
        url: endpoint.url,
        headers,
        body: payload,
        timeoutMs: this.o.timeoutMs,
      });
    } catch (err) {
      response = { kind: 'error', errorClass: 'other', message: String(err), durationMs: 0 };
    }
    const result = this.record(item, startedAt, response);
    if (span) endAttemptSpan(span, response, ATTEMPT_OUTCOMES[result.status], result.attempt.error);
  }

  private record(item: ClaimedDelivery, startedAt: Date, response: DeliveryResponse): AttemptResult {
    const { delivery, endpoint } = item;
    const now = this.o.now();
    const outcome = outcomeOf(response);
    const ok = outcome.kind === 'success';
    const decision = nextAttempt(this.o.policy, delivery.attempts + 1, outcome, this.o.random, now);
    let disableEndpoint: string | null = decision.action === 'disable_endpoint' ? decision.reason : null;
    if (!ok && !disableEndpoint && this.o.disableAfterMs > 0) {
      const firstFailureAt = endpoint.firstFailureAt ?? startedAt;
      if (
        shouldAutoDisable({
          firstFailureAt,
          lastSuccessAt: endpoint.lastSuccessAt,
          now,
          graceMs: this.o.disableAfterMs,
        })
      ) {
        disableEndpoint = `nothing but failures since ${firstFailureAt.toISOString()}`;
      }
    }
    this.stats.attempts++;
    if (decision.action === 'succeeded') this.stats.succeeded++;
    else if (decision.action === 'retry') {
      this.stats.retried++;
      this.earliestRetryAt = Math.min(this.earliestRetryAt, decision.at.getTime());
    } else this.stats.failed++;

    const result: AttemptResult = {
      attempt: {
        id: newId('attempt'),
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        attempt: delivery.attempts + 1,
        startedAt,
        durationMs: response.durationMs,
        ok,
        httpStatus: response.kind === 'response' ? response.status : null,
        errorClass: response.kind === 'error' ? response.errorClass : null,
        error: errorText(response, decision),
        responseSnippet: response.kind === 'response' ? response.bodySnippet.slice(0, SNIPPET_MAX) : null,
      },
      leaseOwner: item.leaseOwner,
      status:
        decision.action === 'succeeded' ? 'succeeded' : decision.action === 'retry' ? 'pending' : 'failed',
      nextAttemptAt: decision.action === 'retry' ? decision.at : null,
      disableEndpoint,
    };
    this.pending.push(result);
    if (isSystemPayload(item.payload)) this.systemDeliveries.add(delivery.id);
    if (disableEndpoint)
      this.o.logger.warn({ endpointId: endpoint.id, reason: disableEndpoint }, 'endpoint disabled');
    void this.flush();
    return result;
  }

  /**
   * Writes the results gathered so far in one transaction; one flush at a time. A write that fails is
   * tried again, with what ended meanwhile, after a pause (a store restarting, a dropped connection):
   * its deliveries stay leased and hold their slots meanwhile, so the worker stops sending what it
   * could not record. After RECORD_TRIES, or once stopping, the results are given up: the leases
   * expire and the deliveries are attempted again, which at-least-once allows.
   */
  private async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.length === 0) return;
    this.flushing = (async () => {
      // Let the other attempts finishing in this turn join the same commit.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const batch = this.pending;
      this.pending = [];
      this.recording = batch.length;
      let transitions: EndpointTransition[];
      try {
        transitions = await this.o.store.recordAttempts(batch, this.o.now(), {
          failingAfter: this.o.failingAfter,
        });
        this.recordFailures = 0;
      } catch (err) {
        this.recordFailures++;
        const retry = this.running && this.recordFailures < RECORD_TRIES;
        this.o.logger.error(
          { err, count: batch.length, failures: this.recordFailures },
          retry
            ? 'recording delivery attempts failed; will retry'
            : 'recording delivery attempts failed; their deliveries go out again once their leases expire',
        );
        if (!retry) {
          this.recordFailures = 0;
          this.forgetSystem(batch);
          return;
        }
        this.pending = [...batch, ...this.pending];
        this.recording = 0;
        await new Promise<void>((resolve) => setTimeout(resolve, 250 * 2 ** (this.recordFailures - 1)));
        return;
      }
      this.recordedNow();
      try {
        this.o.onAttempts?.(
          batch.map((r) => ({
            outcome: r.status === 'succeeded' ? 'succeeded' : r.status === 'pending' ? 'retrying' : 'failed',
            seconds: r.attempt.durationMs / 1000,
          })),
        );
        const raised = transitions.filter(
          (t) => !(t.kind === 'exhausted' && this.systemDeliveries.has(t.deliveryId)),
        );
        if (raised.length > 0) await this.o.onTransitions?.(raised);
      } catch (err) {
        this.o.logger.error({ err, count: batch.length }, 'handling recorded delivery attempts failed');
      }
      this.forgetSystem(batch);
    })().finally(() => {
      this.flushing = null;
      this.recordedNow();
      if (this.pending.length > 0) void this.flush();
    });
    return this.flushing;
  }

  /** A handled or given-up batch's system deliveries, unless a newer result of theirs waits to be written. */
  private forgetSystem(batch: AttemptResult[]): void {
    if (this.systemDeliveries.size === 0) return;
    const waiting = new Set(this.pending.map((r) => r.attempt.deliveryId));
    for (const r of batch)
      if (!waiting.has(r.attempt.deliveryId)) this.systemDeliveries.delete(r.attempt.deliveryId);
  }

  /** The batch being written is done with: its slots are free, and a claim held back for them runs. */
  private recordedNow(): void {
    this.recording = 0;
    if (this.waitingForRecords) {
      this.waitingForRecords = false;
      this.wakeSoon();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || !this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}

/**
 * Lowers the grants, in the claim's (shuffled) order of endpoints, so that together they take no more
 * than `free` slots; returns how many they take.
 */
function trimToFree(grants: Map<string, number>, order: readonly string[], free: number): number {
  let taken = 0;
  for (const id of order) {
    const granted = Math.min(grants.get(id) ?? 0, Math.max(0, free - taken));
    grants.set(id, granted);
    taken += granted;
  }
  return taken;
}

/** The current secret and any rotated-out one still inside its grace period. */
export function activeSecrets(endpoint: EndpointRecord, now: Date): string[] {
  return endpoint.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

function outcomeOf(response: DeliveryResponse): AttemptOutcome {
  if (response.kind === 'error') return { kind: 'error', errorClass: response.errorClass };
  if (response.status >= 200 && response.status < 300) return { kind: 'success' };
  return { kind: 'http', status: response.status, retryAfter: response.headers['retry-after'] ?? null };
}

function errorText(response: DeliveryResponse, decision: ReturnType<typeof nextAttempt>): string | null {
  if (decision.action === 'fail' || decision.action === 'disable_endpoint') return decision.reason;
  if (response.kind === 'error') return response.message;
  if (response.status < 200 || response.status >= 300) return `HTTP ${response.status}`;
  return null;
}
