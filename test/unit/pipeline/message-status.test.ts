import { describe, expect, it } from 'vitest';
import type { BounceType, CanonicalEvent } from '../../../src/events.js';
import { type MessageStatus, messageStatus, timeline } from '../../../src/pipeline/message-status.js';

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const MINUTE = 60_000;

let seq = 0;

/** An event of one message, `minutes` after T0; ids grow with every call unless given. */
function event(type: string, minutes: number, options: { bounce?: BounceType | null; id?: string } = {}) {
  seq++;
  const bounced = type === 'email.bounced' || type === 'email.dropped';
  const result: CanonicalEvent = {
    id: options.id ?? `evt_${String(seq).padStart(6, '0')}`,
    type,
    timestamp: new Date(T0 + minutes * MINUTE).toISOString(),
    data: {
      provider: 'sendgrid',
      source_id: 'src_1',
      provider_event_id: `sg_${seq}`,
      message_id: 'msg_1',
      recipient: 'ada@example.com',
      ...(bounced &&
        options.bounce !== null && { bounce: { type: options.bounce ?? 'hard', code: null, reason: null } }),
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(T0 + minutes * MINUTE + 1000).toISOString(),
      raw: {},
    },
  };
  return result;
}

/** Seeded PRNG (mulberry32), so every shuffle is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function ids(events: readonly CanonicalEvent[]): string[] {
  return events.map((e) => e.id);
}

describe('messageStatus', () => {
  it('is unknown without events, or with only events that carry no rank', () => {
    expect(messageStatus([])).toBe('unknown');
    expect(messageStatus([event('email.resubscribed', 0), event('invoice.paid', 1)])).toBe('unknown');
  });

  it('maps each ranked event alone to its status', () => {
    const cases: Array<[CanonicalEvent, MessageStatus]> = [
      [event('email.sent', 0), 'sent'],
      [event('email.deferred', 0), 'deferred'],
      [event('email.bounced', 0, { bounce: 'soft' }), 'soft_bounced'],
      [event('email.bounced', 0, { bounce: 'undetermined' }), 'soft_bounced'],
      [event('email.bounced', 0, { bounce: null }), 'soft_bounced'],
      [event('email.delivered', 0), 'delivered'],
      [event('email.opened', 0), 'opened'],
      [event('email.clicked', 0), 'clicked'],
      [event('email.unsubscribed', 0), 'unsubscribed'],
      [event('email.complained', 0), 'complained'],
      [event('email.bounced', 0, { bounce: 'hard' }), 'bounced'],
      [event('email.dropped', 0), 'dropped'],
      [event('email.failed', 0), 'failed'],
    ];
    for (const [e, status] of cases)
      expect(messageStatus([e]), `${e.type} ${e.data.bounce?.type}`).toBe(status);
  });

  it('takes the highest rank, not the latest event', () => {
    expect(messageStatus([event('email.sent', 0), event('email.delivered', 1), event('email.sent', 2)])).toBe(
      'delivered',
    );
    expect(messageStatus([event('email.complained', 1), event('email.opened', 2)])).toBe('complained');
    expect(messageStatus([event('email.opened', 1), event('email.delivered', 2)])).toBe('opened');
    expect(messageStatus([event('email.clicked', 1), event('email.opened', 2)])).toBe('clicked');
    expect(messageStatus([event('email.bounced', 0, { bounce: 'soft' }), event('email.delivered', 1)])).toBe(
      'delivered',
    );
    expect(messageStatus([event('email.delivered', 0), event('email.bounced', 1, { bounce: 'soft' })])).toBe(
      'delivered',
    );
    expect(messageStatus([event('email.bounced', 0, { bounce: 'hard' }), event('email.opened', 1)])).toBe(
      'bounced',
    );
    expect(messageStatus([event('email.deferred', 0), event('email.bounced', 1, { bounce: 'soft' })])).toBe(
      'soft_bounced',
    );
    expect(messageStatus([event('email.unsubscribed', 0), event('email.clicked', 1)])).toBe('unsubscribed');
    expect(messageStatus([event('email.complained', 0), event('email.bounced', 1, { bounce: 'hard' })])).toBe(
      'bounced',
    );
    expect(messageStatus([event('email.bounced', 0, { bounce: 'hard' }), event('email.dropped', 1)])).toBe(
      'dropped',
    );
  });

  it('ignores events without a rank among ranked ones', () => {
    expect(messageStatus([event('email.resubscribed', 5), event('email.delivered', 0)])).toBe('delivered');
  });
});

describe('timeline', () => {
  it('orders by time, ties broken by id, and leaves its input untouched', () => {
    const a = event('email.sent', 0, { id: 'evt_b' });
    const b = event('email.delivered', 1, { id: 'evt_c' });
    const c = event('email.opened', 1, { id: 'evt_a' });
    const d = event('email.clicked', 2, { id: 'evt_0' });
    const input = [d, b, c, a];
    expect(ids(timeline(input))).toEqual(['evt_b', 'evt_a', 'evt_c', 'evt_0']);
    expect(ids(input)).toEqual(['evt_0', 'evt_c', 'evt_a', 'evt_b']);
  });

  it('compares instants, not timestamp text', () => {
    const early = { ...event('email.sent', 0, { id: 'evt_z' }), timestamp: '2026-11-26T13:00:00.000+02:00' };
    const late = event('email.delivered', 0, { id: 'evt_a' });
    expect(ids(timeline([late, early]))).toEqual([early.id, late.id]);
  });

  it('of no events is empty', () => {
    expect(timeline([])).toEqual([]);
  });
});

describe('property: arrival order never changes a message status or its timeline', () => {
  const scenarios: Array<{ name: string; status: MessageStatus; events: () => CanonicalEvent[] }> = [
    {
      name: 'sent, delivered, opened, complained, opened',
      status: 'complained',
      events: () => [
        event('email.sent', 0),
        event('email.delivered', 1),
        event('email.opened', 5),
        event('email.complained', 9),
        event('email.opened', 12),
      ],
    },
    {
      name: 'sent, delivered, clicked, delivered',
      status: 'clicked',
      events: () => [
        event('email.sent', 0),
        event('email.delivered', 1),
        event('email.clicked', 3),
        event('email.delivered', 4),
      ],
    },
    {
      name: 'sent, deferred, delivered',
      status: 'delivered',
      events: () => [event('email.sent', 0), event('email.deferred', 1), event('email.delivered', 30)],
    },
    {
      name: 'sent, soft bounce, delivered',
      status: 'delivered',
      events: () => [
        event('email.sent', 0),
        event('email.bounced', 1, { bounce: 'soft' }),
        event('email.delivered', 60),
      ],
    },
    {
      name: 'sent, hard bounce, opened',
      status: 'bounced',
      events: () => [
        event('email.sent', 0),
        event('email.bounced', 1, { bounce: 'hard' }),
        event('email.opened', 2),
      ],
    },
    {
      name: 'sent, delivered, opened and clicked at the same instant, unsubscribed',
      status: 'unsubscribed',
      events: () => [
        event('email.sent', 0),
        event('email.delivered', 1),
        event('email.opened', 2),
        event('email.clicked', 2),
        event('email.unsubscribed', 3),
        event('email.resubscribed', 4),
      ],
    },
  ];

  for (const scenario of scenarios) {
    it(`${scenario.name}: 200 shuffles give status ${scenario.status} and one time order`, () => {
      const events = scenario.events();
      const expectedOrder = ids(timeline(events));
      const random = mulberry32(0xc0ffee);
      for (let run = 0; run < 200; run++) {
        const arrival = shuffled(events, random);
        expect(messageStatus(arrival), `run ${run}: ${ids(arrival).join(',')}`).toBe(scenario.status);
        expect(ids(timeline(arrival)), `run ${run}`).toEqual(expectedOrder);
      }
      const times = timeline(events).map((e) => Date.parse(e.timestamp));
      expect(times).toEqual([...times].sort((x, y) => x - y));
    });
  }

  it('sent, dropped, failed: two final events of equal rank give the same status in either order', () => {
    const events = [event('email.sent', 0), event('email.dropped', 1), event('email.failed', 2)];
    const random = mulberry32(7);
    const statuses = new Set<MessageStatus>();
    for (let run = 0; run < 200; run++) statuses.add(messageStatus(shuffled(events, random)));
    expect([...statuses]).toHaveLength(1);
  });
});
