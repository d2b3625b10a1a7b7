import { describe, expect, it } from 'vitest';
import { FailureIsolation } from '../../../src/pipeline/failure-isolation.js';

describe('FailureIsolation', () => {
  it('takes the normal batch size until a batch fails with rows claimed', () => {
    const isolation = new FailureIsolation();
    expect(isolation.limit(200)).toBe(200);
    expect(isolation.failed([], true)).toBeNull();
    expect(isolation.limit(200)).toBe(200);
  });

  it('retries the rows of a failed batch one per transaction, then returns to the normal size', () => {
    const isolation = new FailureIsolation();
    expect(isolation.failed(['a', 'b', 'c'], true)).toBeNull();
    for (let i = 0; i < 3; i++) {
      expect(isolation.limit(200)).toBe(1);
      isolation.succeeded(1);
    }
    expect(isolation.limit(200)).toBe(200);
  });

  it('names a row that fails alone three times in a row, and only then', () => {
    const isolation = new FailureIsolation(3);
    isolation.failed(['a', 'b'], true);
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBe('a');
    // Named once: counting starts again.
    expect(isolation.failed(['a'], true)).toBeNull();
  });

  it('does not blame a row for failures that claimed nothing (an outage) or concerned another row', () => {
    const isolation = new FailureIsolation(3);
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed([], true)).toBeNull();
    expect(isolation.failed(['b'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBeNull();
    isolation.succeeded(1);
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBe('a');
  });

  it('never names a row for failures that were not about its data (a full disk at commit)', () => {
    const isolation = new FailureIsolation(3);
    // An outage after a claim does not switch to one row per transaction either.
    isolation.failed(['a', 'b'], false);
    expect(isolation.limit(200)).toBe(200);
    for (let i = 0; i < 10; i++) expect(isolation.failed(['a'], false)).toBeNull();
    // Refusals of its data count, and only those.
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], false)).toBeNull();
    expect(isolation.failed(['a'], true)).toBeNull();
    expect(isolation.failed(['a'], true)).toBe('a');
  });
});
