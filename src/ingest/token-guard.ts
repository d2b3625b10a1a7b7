/**
 * Remembers one-time tokens for a while so a captured, correctly signed request cannot be replayed
 * inside the freshness window. In memory and per process: enough for one node (a replay to another
 * node of a cluster is still caught by the event dedup key downstream).
 */
export class TokenGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 200_000) {}

  /** True the first time `key` is seen within `ttlMs`; false for a reuse. */
  claim(key: string, ttlMs: number, nowMs = Date.now()): boolean {
    const expires = this.seen.get(key);
    if (expires !== undefined && expires > nowMs) return false;
    if (this.seen.size >= this.maxEntries) this.evict(nowMs);
    this.seen.set(key, nowMs + ttlMs);
    return true;
  }

  private evict(nowMs: number): void {
    for (const [key, expires] of this.seen) if (expires <= nowMs) this.seen.delete(key);
    // Still full of live tokens: drop the oldest quarter (Map keeps insertion order).
    if (this.seen.size >= this.maxEntries) {
      let drop = Math.floor(this.maxEntries / 4);
      for (const key of this.seen.keys()) {
        if (drop-- <= 0) break;
        this.seen.delete(key);
      }
    }
  }
}
