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
});
