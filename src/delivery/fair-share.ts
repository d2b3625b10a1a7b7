/**
 * Fair shares of one worker's pool of concurrent attempts (MAILHOOK_DELIVERY_CONCURRENCY).
 *
 * An endpoint that accepts connections and never answers holds every slot it gets for the whole
 * delivery timeout. Per-endpoint caps alone do not stop a few such endpoints from taking the whole
 * pool together (11 × 20 > 200), and then every other endpoint waits for their timeouts. So, at each
 * claim, the slots are divided among the *contenders* — the endpoints with due deliveries or with
 * attempts in flight, n of them:
 *
 * - a reserve of one share, ⌈pool / (n + 1)⌉ slots, stays free for whichever endpoint has work next,
 *   so it starts at once instead of waiting for a stuck attempt to time out;
 * - the rest is divided max-min fairly (water-filling): an endpoint gets more than an equal part only
 *   when others cannot use theirs (their own max_concurrency, rate limit, or no more due work);
 * - an endpoint at or over its part takes nothing more; the free slots go to the others, fewest
 *   attempts in flight first, so a newcomer is served before anyone already holding slots, and may
 *   use the reserve to reach its part at once (the reserve is there for it).
 *
 * The reserve never goes below what lets each contender hold one slot, so with as many contenders as
 * slots it is 0: the promise holds while fewer endpoints than the pool has slots have work at once.
 */

export interface Contender {
  endpointId: string;
  /** Attempts to this endpoint in flight on this worker. */
  inflight: number;
  /** How many more it could start now by its own limits (max_concurrency, rate limit); 0 without due work. */
  room: number;
}

/** The slots kept free for an endpoint that gets work next, with `contenders` endpoints busy. */
export function reserveFor(pool: number, contenders: number): number {
  if (contenders >= pool) return 0;
  return Math.min(Math.ceil(pool / (contenders + 1)), pool - contenders);
}

/**
 * The max-min fair level: the largest whole number of slots L such that giving every endpoint
 * min(demand, L) fits in `capacity`. Endpoints demanding less get all they ask; the others get L,
 * and the few slots left over (fewer than those others) are handed out one by one.
 */
export function waterLevel(capacity: number, demands: readonly number[]): number {
  const fits = (level: number) => demands.reduce((sum, d) => sum + Math.min(d, level), 0) <= capacity;
  let low = 0;
  let high = Math.max(0, ...demands);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * How many deliveries each contender may start in this claim, by endpoint id (absent = none).
 * `random` breaks ties between endpoints with as many attempts in flight.
 */
export function fairSlots(
  pool: number,
  contenders: readonly Contender[],
  random: () => number = Math.random,
): Map<string, number> {
  const grants = new Map<string, number>();
  const inflight = contenders.reduce((sum, c) => sum + c.inflight, 0);
  let free = pool - inflight;
  if (free <= 0 || contenders.length === 0) return grants;
  const keys = new Map(contenders.map((c) => [c, random()]));
  const ordered = [...contenders].sort(
    (a, b) => a.inflight - b.inflight || (keys.get(a) as number) - (keys.get(b) as number),
  );
  const capacity = pool - reserveFor(pool, ordered.length);
  const level = waterLevel(
    capacity,
    ordered.map((c) => c.inflight + Math.max(0, c.room)),
  );
  // Up to the level: an endpoint below it may dip into the reserve (it is what the reserve is for).
  for (const c of ordered) {
    const grant = Math.min(c.room, level - c.inflight, free);
    if (grant <= 0) continue;
    grants.set(c.endpointId, grant);
    free -= grant;
  }
  // One more each, fewest in flight first, for the slots left under the capacity: never the reserve.
  let spare = Math.min(free, capacity - inflight - [...grants.values()].reduce((sum, n) => sum + n, 0));
  for (const c of ordered) {
    if (spare <= 0) break;
    const granted = grants.get(c.endpointId) ?? 0;
    if (c.inflight + granted !== level || granted >= c.room) continue;
    grants.set(c.endpointId, granted + 1);
    spare--;
  }
  return grants;
}
