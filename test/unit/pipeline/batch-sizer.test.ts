import { describe, expect, it } from 'vitest';
import { BatchSizer } from '../../../src/pipeline/batch-sizer.js';

const sizing = { min: 1, max: 1000, busyMs: 3, idleMs: 30, quietMs: 250 };

function sizerAt(start = 0) {
  let now = start;
  const sizer = new BatchSizer(sizing, () => now);
  return { sizer, advance: (ms: number) => (now += ms) };
}

describe('BatchSizer', () => {
  it('sizes batches to the idle budget from the measured cost per row', () => {
    const { sizer } = sizerAt();
    for (let i = 0; i < 30; i++) sizer.record(10, 1); // 0.1 ms a row
    expect(sizer.next()).toBe(300);
  });

  it('keeps transactions short while ingest is committing, and long again once it is quiet', () => {
    const { sizer, advance } = sizerAt();
    for (let i = 0; i < 30; i++) sizer.record(10, 1);
    sizer.noteIngest();
    expect(sizer.next()).toBe(30);
    advance(249);
    expect(sizer.next()).toBe(30);
    advance(2);
    expect(sizer.next()).toBe(300);
  });

  it('follows a cost that changes, and stays within min and max', () => {
    const { sizer } = sizerAt();
    for (let i = 0; i < 30; i++) sizer.record(1, 100); // a huge row: 100 ms
    expect(sizer.next()).toBe(1);
    for (let i = 0; i < 60; i++) sizer.record(1000, 1); // nearly free rows
    expect(sizer.next()).toBe(1000);
  });

  it('ignores empty batches', () => {
    const { sizer } = sizerAt();
    for (let i = 0; i < 30; i++) sizer.record(10, 1);
    sizer.record(0, 50);
    expect(sizer.next()).toBe(300);
  });

  it("separates a transaction's fixed cost from its rows' once batch sizes vary", () => {
    const { sizer } = sizerAt();
    // 8 ms per transaction (round trips, commit) and 0.05 ms a row.
    for (const rows of [1, 10, 40, 3, 25, 60]) sizer.record(rows, 8 + 0.05 * rows);
    const cost = sizer.cost();
    expect(cost?.fixedMs).toBeCloseTo(8, 6);
    expect(cost?.perRowMs).toBeCloseTo(0.05, 6);
    // The idle budget less the fixed cost: (30 - 8) / 0.05.
    expect(sizer.next()).toBe(440);
  });

  it('spends at least as long on rows as on the fixed cost when that exceeds the budget', () => {
    const { sizer } = sizerAt();
    // A remote PostgreSQL: 60 ms per transaction, 0.1 ms a row; the idle budget is 30 ms.
    for (const rows of [1, 2, 8, 4, 16]) sizer.record(rows, 60 + 0.1 * rows);
    expect(sizer.next()).toBe(600);
  });

  it('does not stay at one row per transaction when the fixed cost exceeds the budget and rows wait', () => {
    // The pipeline against a store whose transactions cost 8 ms plus 0.05 ms a row, 400 rows waiting
    // and 200 more each second: sized by cost per row alone, every batch was one row (8 ms), 125 rows
    // a second, and the backlog grew for as long as the load lasted.
    const { sizer, advance } = sizerAt();
    let waiting = 400;
    let elapsed = 0;
    const sizes: number[] = [];
    while (elapsed < 2000) {
      sizer.noteIngest();
      const limit = sizer.next();
      const rows = Math.min(limit, waiting);
      const ms = 8 + 0.05 * rows;
      sizer.record(rows, ms, limit);
      sizes.push(rows);
      waiting += (200 * ms) / 1000 - rows;
      elapsed += ms;
      advance(ms);
    }
    expect(waiting).toBeLessThan(5);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
  });

  it('does not keep doubling full batches once the fit shows the rows themselves are expensive', () => {
    const { sizer } = sizerAt();
    // Each row costs 20 ms and a transaction nothing more: full batches must not keep doubling.
    let limit = sizer.next();
    for (let i = 0; i < 20; i++) {
      const rows = Math.min(limit, 50);
      sizer.record(rows, 20 * rows, limit);
      limit = sizer.next();
      expect(limit).toBeLessThanOrEqual(4);
    }
  });
});
