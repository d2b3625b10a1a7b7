import { describe, expect, it } from 'vitest';
import { forgeCredentials, KeyError, parseCredentials } from '../../../src/simulate/keys.js';
import { planEvents, SIM_KINDS } from '../../../src/simulate/plan.js';
import { Rng } from '../../../src/simulate/rng.js';
import { targetPath } from '../../../src/simulate/runner.js';
import { percentile, Tally } from '../../../src/simulate/stats.js';
import { planTraffic, type TrafficOptions } from '../../../src/simulate/traffic.js';

const NOW = new Date('2026-11-26T12:00:00Z');

function traffic(overrides: Partial<TrafficOptions> = {}, seed = 1) {
  return planTraffic(new Rng(seed), {
    count: 200,
    batch: 1,
    duplicates: 0.05,
    badSignatures: 0.02,
    shuffle: false,
    kinds: SIM_KINDS,
    now: NOW,
    ...overrides,
  });
}

describe('the simulated traffic', () => {
  it('has exactly the requested number of events, in the order they happened, all in the past', () => {
    const events = planEvents(new Rng(3), { count: 1000, now: NOW, kinds: SIM_KINDS });
    expect(events).toHaveLength(1000);
    expect(new Set(events.map((e) => e.key)).size).toBe(1000);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]?.at.getTime()).toBeGreaterThanOrEqual(events[i - 1]?.at.getTime() ?? 0);
    }
    expect(events.every((e) => e.at < NOW)).toBe(true);
  });

  it('mixes event types as real traffic does: delivered ≫ opened > clicked > bounced > complained', () => {
    const counts: Record<string, number> = {};
    for (const event of planEvents(new Rng(4), { count: 20_000, now: NOW, kinds: SIM_KINDS })) {
      counts[event.kind] = (counts[event.kind] ?? 0) + 1;
    }
    const { delivered = 0, opened = 0, clicked = 0, bounced = 0, complained = 0 } = counts;
    expect(delivered).toBeGreaterThan(2 * opened);
    expect(opened).toBeGreaterThan(clicked);
    expect(clicked).toBeGreaterThan(bounced);
    expect(bounced).toBeGreaterThan(complained);
    expect(complained).toBeGreaterThan(0);
  });

  it('never produces a kind the provider does not report, and never one kind twice per message', () => {
    const events = planEvents(new Rng(5), { count: 2000, now: NOW, kinds: ['delivered', 'bounced'] });
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['delivered', 'bounced']));
    const pairs = events.map((e) => `${e.message.key}:${e.kind}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('is the same for the same seed and different for another', () => {
    const keys = (seed: number) => traffic({ shuffle: true }, seed).slots.map((s) => s.events[0]?.key);
    expect(keys(7)).toEqual(keys(7));
    expect(keys(7)).not.toEqual(keys(8));
  });

  it('adds duplicates and forged requests on top of the valid ones', () => {
    const planned = traffic({ count: 400, batch: 4, duplicates: 0.1, badSignatures: 0.05 });
    expect(planned.requests).toBe(100);
    expect(planned.duplicates).toBe(10);
    expect(planned.bad).toBe(5);
    const valid = planned.slots.filter((s) => s.kind === 'valid');
    const events = valid.flatMap((s) => s.events.map((e) => e.key));
    expect(new Set(events).size).toBe(400);
    const forged = planned.slots.filter((s) => s.kind === 'bad').flatMap((s) => s.events.map((e) => e.key));
    expect(forged).toHaveLength(20);
    expect(forged.some((key) => events.includes(key))).toBe(false);
    const duplicates = planned.slots.filter((s) => s.kind === 'duplicate');
    expect(duplicates.length).toBeGreaterThan(0);
    for (const duplicate of duplicates) {
      const original = valid.find((s) => s.request === duplicate.request);
      expect(original?.events).toBe(duplicate.events);
    }
  });

  it('sends a duplicate after its original unless shuffled', () => {
    const { slots } = traffic({ duplicates: 0.5 });
    expect(slots.some((slot) => slot.kind === 'duplicate')).toBe(true);
    slots.forEach((slot, index) => {
      if (slot.kind !== 'duplicate') return;
      const original = slots.findIndex((s) => s.kind === 'valid' && s.request === slot.request);
      expect(original).toBeLessThan(index);
    });
    const inOrder = traffic()
      .slots.filter((s) => s.kind === 'valid')
      .map((s) => s.request);
    expect(inOrder).toEqual([...inOrder].sort((a, b) => a - b));
    const shuffled = traffic({ shuffle: true })
      .slots.filter((s) => s.kind === 'valid')
      .map((s) => s.request);
    expect(shuffled).not.toEqual([...shuffled].sort((a, b) => a - b));
  });
});

describe('the credential conventions', () => {
  it('reads user:pass, header:<name>:<value> and token:<value>', () => {
    expect(parseCredentials(['hook:pa:ss'], 'postmark')).toEqual({
      basic: { username: 'hook', password: 'pa:ss' },
    });
    expect(parseCredentials(['header:X-Secret:a:b'], 'postmark')).toEqual({
      header: { name: 'x-secret', value: 'a:b' },
    });
    expect(parseCredentials(['token:abc', 'u:p'], 'elasticemail', true)).toEqual({
      token: 'abc',
      basic: { username: 'u', password: 'p' },
    });
  });

  it('refuses a missing or shapeless key', () => {
    expect(() => parseCredentials([], 'postmark')).toThrow(KeyError);
    expect(() => parseCredentials(['nocolon'], 'postmark')).toThrow(KeyError);
    expect(() => parseCredentials(['header:x-secret'], 'postmark')).toThrow(KeyError);
    expect(() => parseCredentials(['token:abc'], 'postmark')).toThrow(KeyError);
  });

  it('forges credentials by changing every secret and nothing else', () => {
    const forged = forgeCredentials(
      { basic: { username: 'u', password: 'p' }, header: { name: 'x', value: 'v' } },
      '!',
    );
    expect(forged).toEqual({ basic: { username: 'u', password: 'p!' }, header: { name: 'x', value: 'v!' } });
  });
});

describe('the run summary', () => {
  it('counts 2xx as acknowledged, 401 to forged requests as rejected, anything else as unexpected', () => {
    const tally = new Tally();
    tally.add({ kind: 'valid', status: 200, latencyMs: 1 });
    tally.add({ kind: 'duplicate', status: 200, latencyMs: 2 });
    tally.add({ kind: 'bad', status: 401, latencyMs: 3 });
    tally.add({ kind: 'valid', status: 401, latencyMs: 4 });
    tally.add({ kind: 'bad', status: 200, latencyMs: 5 });
    tally.add({ kind: 'valid', status: null, error: 'ECONNREFUSED', latencyMs: 6 });
    const summary = tally.summary({
      provider: 'x',
      url: 'http://127.0.0.1/',
      seed: 1,
      events: 3,
      requests: { valid: 3, duplicates: 1, bad_signatures: 2, total: 6 },
      duration_ms: 1000,
      interrupted: false,
    });
    expect(summary).toMatchObject({ sent: 6, acknowledged: 3, rejected: 1, requests_per_second: 6 });
    expect(summary.unexpected).toMatchObject({ count: 3, by_status: { '401': 1, '200': 1, error: 1 } });
    expect(summary.latency_ms).toEqual({ p50: 3, p90: 6, p99: 6, max: 6 });
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBe(0);
  });

  it('appends a request query to the URL, keeping the URL own query', () => {
    expect(targetPath(new URL('http://h/ingest/src_1'), '')).toBe('/ingest/src_1');
    expect(targetPath(new URL('http://h/ingest/src_1'), 'a=1')).toBe('/ingest/src_1?a=1');
    expect(targetPath(new URL('http://h/ingest/src_1?t=x'), 'a=1')).toBe('/ingest/src_1?t=x&a=1');
  });
});
