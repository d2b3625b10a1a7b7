import { describe, expect, it } from 'vitest';
import { type Contender, fairSlots, reserveFor, waterLevel } from '../../../src/delivery/fair-share.js';
import { seededRandom } from '../../helpers/random.js';

const POOL = 200;

function contender(endpointId: string, inflight: number, room: number): Contender {
  return { endpointId, inflight, room };
}

function stuck(count: number, inflight: number, max = 20): Contender[] {
  return Array.from({ length: count }, (_, i) => contender(`ep_stuck_${i}`, inflight, max - inflight));
}

function total(grants: Map<string, number>): number {
  return [...grants.values()].reduce((sum, n) => sum + n, 0);
}

describe('reserveFor', () => {
  it('keeps one share of the pool free for the next endpoint with work', () => {
    expect(reserveFor(POOL, 1)).toBe(100);
    expect(reserveFor(POOL, 11)).toBe(17);
    expect(reserveFor(POOL, 12)).toBe(16);
  });

  it('never takes so much that a contender could not hold one slot, and is 0 with as many contenders as slots', () => {
    expect(reserveFor(POOL, 150)).toBe(2);
    expect(reserveFor(POOL, 199)).toBe(1);
    expect(reserveFor(POOL, 200)).toBe(0);
    expect(reserveFor(POOL, 500)).toBe(0);
    expect(reserveFor(1, 1)).toBe(0);
    expect(reserveFor(2, 1)).toBe(1);
  });
});

describe('waterLevel', () => {
  it('is the equal part when every endpoint wants more, rounded down', () => {
    expect(waterLevel(10, [20, 20, 20])).toBe(3);
    expect(waterLevel(185, Array(13).fill(20))).toBe(14);
  });

  it('gives a small demand all it asks and raises the level of the others', () => {
    expect(waterLevel(10, [20, 1, 20])).toBe(4);
    expect(waterLevel(10, [0, 20])).toBe(10);
  });

  it('is the largest demand when the capacity covers every demand, and 0 without capacity', () => {
    expect(waterLevel(100, [3, 20, 7])).toBe(20);
    expect(waterLevel(0, [3, 20])).toBe(0);
    expect(waterLevel(5, [])).toBe(0);
  });
});

describe('fairSlots', () => {
  it('lets twelve endpoints that all start together fill the pool only up to the reserve', () => {
    const grants = fairSlots(POOL, [...stuck(12, 0), contender('ep_healthy', 0, 20)]);
    expect(total(grants)).toBe(POOL - reserveFor(POOL, 13));
    for (const n of grants.values()) expect(n).toBeGreaterThanOrEqual(14);
    for (const n of grants.values()) expect(n).toBeLessThanOrEqual(15);
  });

  it('gives a newcomer its share at once when stuck endpoints already hold theirs, and them nothing more', () => {
    // Twelve stuck endpoints alone: each gets its part of the pool minus one reserve.
    const first = fairSlots(POOL, stuck(12, 0));
    expect(total(first)).toBe(POOL - reserveFor(POOL, 12));
    const holding = stuck(12, 0).map((c) => {
      const inflight = first.get(c.endpointId) ?? 0;
      return contender(c.endpointId, inflight, 20 - inflight);
    });
    const grants = fairSlots(POOL, [...holding, contender('ep_healthy', 0, 20)]);
    expect(grants.get('ep_healthy')).toBe(14);
    expect(total(grants)).toBe(14);
  });

  it('does not let endpoints that hold their part creep into the reserve over later claims', () => {
    let holding = stuck(12, 0);
    for (let claim = 0; claim < 5; claim++) {
      const grants = fairSlots(POOL, holding);
      holding = holding.map((c) => {
        const inflight = c.inflight + (grants.get(c.endpointId) ?? 0);
        return contender(c.endpointId, inflight, 20 - inflight);
      });
      expect(holding.reduce((sum, c) => sum + c.inflight, 0)).toBe(POOL - reserveFor(POOL, 12));
    }
  });

  it('lets one endpoint alone use its own cap, and at most half the pool', () => {
    expect(fairSlots(POOL, [contender('ep_a', 0, 20)])).toEqual(new Map([['ep_a', 20]]));
    expect(fairSlots(POOL, [contender('ep_a', 0, 1000)])).toEqual(new Map([['ep_a', 100]]));
    expect(fairSlots(POOL, [contender('ep_a', 100, 900)])).toEqual(new Map());
  });

  it('always lets a contender progress in a tiny pool', () => {
    expect(fairSlots(1, [contender('ep_a', 0, 20)])).toEqual(new Map([['ep_a', 1]]));
    expect(fairSlots(2, [contender('ep_a', 0, 20), contender('ep_b', 0, 20)])).toEqual(
      new Map([
        ['ep_a', 1],
        ['ep_b', 1],
      ]),
    );
  });

  it('counts an endpoint with attempts in flight and nothing more due as a contender', () => {
    const grants = fairSlots(POOL, [contender('ep_stuck', 20, 0), contender('ep_b', 0, 20)]);
    expect(grants).toEqual(new Map([['ep_b', 20]]));
    // Twelve of them hold their slots; a newcomer still finds its share free.
    const holding = Array.from({ length: 12 }, (_, i) => contender(`ep_stuck_${i}`, 16, 0));
    expect(fairSlots(POOL, [...holding, contender('ep_b', 0, 20)]).get('ep_b')).toBe(8);
  });

  it('leaves the part an endpoint cannot use (rate limit, own cap) to the others', () => {
    const grants = fairSlots(10, [contender('ep_limited', 0, 0), contender('ep_b', 0, 10)]);
    expect(grants).toEqual(new Map([['ep_b', 10 - reserveFor(10, 2)]]));
  });

  it('serves the endpoints with the fewest attempts in flight first when slots are short', () => {
    const grants = fairSlots(10, [contender('ep_busy', 5, 5), contender('ep_new', 0, 5)]);
    expect(grants).toEqual(new Map([['ep_new', 3]]));
    // More contenders than slots: one each, to as many as there are free slots.
    const many = Array.from({ length: 5 }, (_, i) => contender(`ep_${i}`, 0, 1));
    const some = fairSlots(3, many);
    expect(total(some)).toBe(3);
    for (const n of some.values()) expect(n).toBe(1);
  });

  it('never grants more than an endpoint has room for nor more than the pool has free', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 500; round++) {
      const pool = 1 + Math.floor(random() * 300);
      const contenders = Array.from({ length: 1 + Math.floor(random() * 40) }, (_, i) => {
        const inflight = Math.floor(random() * 25);
        return contender(`ep_${i}`, inflight, Math.floor(random() * 25));
      });
      const free = pool - contenders.reduce((sum, c) => sum + c.inflight, 0);
      const grants = fairSlots(pool, contenders, random);
      expect(total(grants)).toBeLessThanOrEqual(Math.max(0, free));
      for (const c of contenders) expect(grants.get(c.endpointId) ?? 0).toBeLessThanOrEqual(c.room);
      for (const n of grants.values()) expect(n).toBeGreaterThan(0);
    }
  });
});
