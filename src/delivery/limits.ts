import type { EndpointRecord } from '../store/store.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Per-endpoint concurrency caps and rate limits (token buckets) for one worker. The bucket holds at
 * most one second's worth of tokens, so an idle endpoint cannot save up a burst larger than its rate.
 */
export class EndpointLimits {
  private readonly inflight = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();

  /** How many more deliveries the endpoint may take now. */
  slots(endpoint: EndpointRecord, nowMs: number): number {
    const free = endpoint.maxConcurrency - (this.inflight.get(endpoint.id) ?? 0);
    if (free <= 0) return 0;
    if (endpoint.rateLimit === null) return free;
    return Math.min(free, Math.floor(this.refill(endpoint, nowMs).tokens));
  }

  /** Attempts to this endpoint in flight. */
  inflightOf(endpointId: string): number {
    return this.inflight.get(endpointId) ?? 0;
  }

  /** The endpoints with attempts in flight, and how many each. */
  busy(): ReadonlyMap<string, number> {
    return this.inflight;
  }

  take(endpoint: EndpointRecord, nowMs: number): void {
    this.inflight.set(endpoint.id, (this.inflight.get(endpoint.id) ?? 0) + 1);
    if (endpoint.rateLimit !== null) this.refill(endpoint, nowMs).tokens -= 1;
  }

  done(endpointId: string): void {
    const count = (this.inflight.get(endpointId) ?? 1) - 1;
    if (count <= 0) this.inflight.delete(endpointId);
    else this.inflight.set(endpointId, count);
  }

  private refill(endpoint: EndpointRecord, nowMs: number): Bucket {
    const rate = endpoint.rateLimit ?? 0;
    const capacity = Math.max(1, rate);
    let bucket = this.buckets.get(endpoint.id);
    if (!bucket) {
      bucket = { tokens: capacity, updatedAt: nowMs };
      this.buckets.set(endpoint.id, bucket);
    }
    const elapsed = Math.max(0, nowMs - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(capacity, bucket.tokens + elapsed * rate);
    // A time from before the last refill (a transaction's clock, read before it began) must not
    // move the bucket back, or the next refill would count that stretch twice.
    bucket.updatedAt = Math.max(bucket.updatedAt, nowMs);
    return bucket;
  }
}
