import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/events.js';
import {
  claimFirstOfType,
  floorTo,
  HOUR_MS,
  pairKey,
  planStats,
  RollupDelta,
  recipientDomain,
  statsRows,
} from '../../../src/store/stats-rollup.js';

const T = Date.parse('2026-12-06T10:00:00.000Z');

function event(overrides: {
  type?: string;
  at?: number;
  messageId?: string | null;
  sourceId?: string;
  recipient?: string | null;
}): CanonicalEvent {
  return {
    id: `evt_${Math.random().toString(36).slice(2)}`,
    type: overrides.type ?? 'email.opened',
    timestamp: new Date(overrides.at ?? T).toISOString(),
    data: {
      provider: 'sendgrid',
      source_id: overrides.sourceId ?? 'src_a',
      provider_event_id: null,
      message_id: overrides.messageId === undefined ? 'm1' : overrides.messageId,
      recipient: overrides.recipient === undefined ? 'ada@example.com' : overrides.recipient,
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(T).toISOString(),
      raw: null,
    },
  };
}

describe('stats rollup keys', () => {
  it('floors to the hour before 1970 as after it', () => {
    expect(floorTo(T + 59 * 60_000, HOUR_MS)).toBe(T);
    expect(floorTo(T, HOUR_MS)).toBe(T);
    expect(floorTo(-1, HOUR_MS)).toBe(-HOUR_MS);
    expect(floorTo(-HOUR_MS, HOUR_MS)).toBe(-HOUR_MS);
  });

  it('takes the domain after the last @, lower-cases A-Z only, and has none when it is empty', () => {
    expect(recipientDomain('Ada@Example.COM')).toBe('example.com');
    expect(recipientDomain('"a@b"@Example.org')).toBe('example.org');
    expect(recipientDomain('z@MÜNCHEN.de')).toBe('mÜnchen.de');
    expect(recipientDomain('no-at-sign')).toBeNull();
    expect(recipientDomain('trailing@')).toBeNull();
    expect(recipientDomain(null)).toBeNull();
  });
});

describe('planStats', () => {
  const q = (since: number, until: number) => planStats({ since: new Date(since), until: new Date(until) });

  it('answers whole hours from the rollups and the partial hours at both ends from the events', () => {
    expect(q(T - 90_000, T + 5 * HOUR_MS + 1)).toEqual({
      hours: { from: T, to: T + 5 * HOUR_MS },
      scans: [
        { from: T - 90_000, to: T },
        { from: T + 5 * HOUR_MS, to: T + 5 * HOUR_MS + 1 },
      ],
    });
  });

  it('needs no scan when both ends are on the hour', () => {
    expect(q(T, T + HOUR_MS)).toEqual({ hours: { from: T, to: T + HOUR_MS }, scans: [] });
  });

  it('scans the events alone when no whole hour fits in the window', () => {
    expect(q(T + 1, T + HOUR_MS + 1)).toEqual({ hours: null, scans: [{ from: T + 1, to: T + HOUR_MS + 1 }] });
    expect(q(T + 10, T + 20)).toEqual({ hours: null, scans: [{ from: T + 10, to: T + 20 }] });
    expect(q(T, T)).toEqual({ hours: null, scans: [] });
  });
});

describe('first of type', () => {
  it('claims each (message id, type) once, skips stored pairs, repeated dedup keys and events without a message id', () => {
    const taken = new Set([pairKey('m-old', 'email.opened')]);
    const a = event({ messageId: 'm1' });
    const flags = claimFirstOfType(
      [
        { event: event({ messageId: 'm-old' }), dedupKey: 'k1' },
        { event: a, dedupKey: 'k2' },
        { event: event({ messageId: 'm1' }), dedupKey: 'k3' },
        { event: event({ messageId: 'm1', type: 'email.clicked' }), dedupKey: 'k2' },
        { event: event({ messageId: 'm1', type: 'email.clicked' }), dedupKey: 'k4' },
        { event: event({ messageId: null }), dedupKey: 'k5' },
      ],
      taken,
    );
    expect(flags).toEqual([false, true, false, false, true, false]);
  });
});

describe('RollupDelta', () => {
  it('sums events and first-of-type events per key, in key order', () => {
    const delta = new RollupDelta();
    expect(delta.empty).toBe(true);
    delta.add(event({ at: T + 5, recipient: 'a@B.example' }), true);
    delta.add(event({ at: T + HOUR_MS - 1, recipient: 'b@b.example' }), false);
    delta.add(event({ at: T - 1, recipient: null }), true);
    expect(delta.typeRows()).toEqual([
      {
        hour: T - HOUR_MS,
        sourceId: 'src_a',
        provider: 'sendgrid',
        type: 'email.opened',
        events: 1,
        messages: 1,
      },
      { hour: T, sourceId: 'src_a', provider: 'sendgrid', type: 'email.opened', events: 2, messages: 1 },
    ]);
    expect(delta.domainRollupRows()).toEqual([
      { hour: T - HOUR_MS, sourceId: 'src_a', type: 'email.opened', domain: '', events: 1, messages: 1 },
      { hour: T, sourceId: 'src_a', type: 'email.opened', domain: 'b.example', events: 2, messages: 1 },
    ]);
  });
});

describe('statsRows', () => {
  it('names days by their UTC date and sorts the null group first', () => {
    expect(
      statsRows('day', [
        { grp: T, type: 'email.sent', n: 2, m: 1 },
        { grp: T - 86_400_000, type: 'email.sent', n: 1, m: 1 },
      ]).map((r) => r.group),
    ).toEqual(['2026-12-05', '2026-12-06']);
    expect(
      statsRows('recipient_domain', [
        { grp: 'b.example', type: 'email.sent', n: 1, m: 0 },
        { grp: null, type: 'email.sent', n: 1, m: 0 },
      ]).map((r) => r.group),
    ).toEqual([null, 'b.example']);
  });
});
