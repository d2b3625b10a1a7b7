import { describe, expect, it } from 'vitest';
import type { BounceInfo, CanonicalEvent } from '../../../src/events.js';
import { DEFAULT_SOFT_BOUNCE_POLICY, pipelineEffects } from '../../../src/pipeline/effects.js';
import { routeEvent } from '../../../src/pipeline/fan-out.js';
import {
  GLOBAL_SCOPE,
  normalizeEmail,
  type RecipientHistoryItem,
  type SoftBouncePolicy,
  SUPPRESSION_REASONS,
  scopeOf,
  softBouncesSuppress,
  suppressionIntents,
} from '../../../src/pipeline/suppression-rules.js';
import { between, pick, runSeed, seededRandom } from '../../helpers/random.js';

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POLICY: SoftBouncePolicy = { threshold: 3, windowMs: 7 * DAY };

function event(type: string, data: Partial<CanonicalEvent['data']> = {}): CanonicalEvent {
  return {
    id: 'evt_1',
    type,
    timestamp: new Date(T0).toISOString(),
    data: {
      provider: 'sendgrid',
      source_id: 'src_1',
      provider_event_id: 'sg_1',
      message_id: 'msg_1',
      recipient: 'ada@example.com',
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(T0 + 1000).toISOString(),
      raw: {},
      ...data,
    },
  };
}

function bounce(
  type: BounceInfo['type'],
  code: string | null = null,
  reason: string | null = null,
): BounceInfo {
  return { type, code, reason };
}

function softAt(occurredAt: number): RecipientHistoryItem {
  return { type: 'email.bounced', bounceType: 'soft', occurredAt };
}

function deliveredAt(occurredAt: number): RecipientHistoryItem {
  return { type: 'email.delivered', bounceType: null, occurredAt };
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

describe('suppression vocabulary', () => {
  it('lists the five reasons', () => {
    expect(SUPPRESSION_REASONS).toEqual([
      'hard_bounce',
      'soft_bounces',
      'complaint',
      'unsubscribe',
      'manual',
    ]);
  });

  it('scopeOf names a group scope and falls back to global without a group', () => {
    expect(scopeOf('42')).toBe('group:42');
    expect(scopeOf(null)).toBe(GLOBAL_SCOPE);
    expect(scopeOf(undefined)).toBe('global');
    expect(scopeOf('')).toBe('global');
  });

  it('normalizeEmail trims and lower-cases', () => {
    expect(normalizeEmail('  Ada@Example.COM\t')).toBe('ada@example.com');
    expect(normalizeEmail('bob@example.com')).toBe('bob@example.com');
  });
});

describe('suppressionIntents', () => {
  it('a hard bounce adds a global hard_bounce entry with the code and reason as detail', () => {
    expect(
      suppressionIntents(event('email.bounced', { bounce: bounce('hard', '5.1.1', '550 unknown user') })),
    ).toEqual([{ op: 'add', scope: 'global', reason: 'hard_bounce', detail: '5.1.1 550 unknown user' }]);
  });

  it('a hard bounce detail falls back to whichever of code and reason is given, then to "bounced"', () => {
    const detail = (info: BounceInfo) => {
      const [intent] = suppressionIntents(event('email.bounced', { bounce: info }));
      return intent?.op === 'add' ? intent.detail : undefined;
    };
    expect(detail(bounce('hard', '5.1.1'))).toBe('5.1.1');
    expect(detail(bounce('hard', null, 'mailbox unknown'))).toBe('mailbox unknown');
    expect(detail(bounce('hard'))).toBe('bounced');
    expect(detail(bounce('hard', '', ''))).toBe('bounced');
  });

  it('a soft bounce asks for the soft-bounce check', () => {
    expect(suppressionIntents(event('email.bounced', { bounce: bounce('soft', '4.2.2') }))).toEqual([
      { op: 'check_soft_bounces' },
    ]);
  });

  it('an undetermined bounce, or one without bounce details, does nothing', () => {
    expect(suppressionIntents(event('email.bounced', { bounce: bounce('undetermined') }))).toEqual([]);
    expect(suppressionIntents(event('email.bounced'))).toEqual([]);
  });

  it('a drop with a hard bounce adds hard_bounce with a "dropped:" detail; other drops do nothing', () => {
    expect(
      suppressionIntents(event('email.dropped', { bounce: bounce('hard', null, 'Bounced Address') })),
    ).toEqual([{ op: 'add', scope: 'global', reason: 'hard_bounce', detail: 'dropped: Bounced Address' }]);
    expect(suppressionIntents(event('email.dropped', { bounce: bounce('hard') }))).toEqual([
      { op: 'add', scope: 'global', reason: 'hard_bounce', detail: 'dropped: bounced' },
    ]);
    expect(
      suppressionIntents(event('email.dropped', { bounce: bounce('undetermined', null, 'Spam') })),
    ).toEqual([]);
    expect(suppressionIntents(event('email.dropped', { bounce: bounce('soft') }))).toEqual([]);
    expect(suppressionIntents(event('email.dropped'))).toEqual([]);
  });

  it('a complaint adds a global complaint entry', () => {
    expect(suppressionIntents(event('email.complained'))).toEqual([
      { op: 'add', scope: 'global', reason: 'complaint', detail: 'spam complaint' },
    ]);
  });

  it('an unsubscribe adds an unsubscribe entry in its group, or globally', () => {
    expect(suppressionIntents(event('email.unsubscribed', { unsubscribe: { group: '42' } }))).toEqual([
      { op: 'add', scope: 'group:42', reason: 'unsubscribe', detail: null },
    ]);
    expect(suppressionIntents(event('email.unsubscribed', { unsubscribe: { group: null } }))).toEqual([
      { op: 'add', scope: 'global', reason: 'unsubscribe', detail: null },
    ]);
    expect(suppressionIntents(event('email.unsubscribed'))).toEqual([
      { op: 'add', scope: 'global', reason: 'unsubscribe', detail: null },
    ]);
  });

  it('a resubscribe removes the unsubscribe entry of its group, or the global one', () => {
    expect(suppressionIntents(event('email.resubscribed', { unsubscribe: { group: '42' } }))).toEqual([
      { op: 'remove', scope: 'group:42', reason: 'unsubscribe' },
    ]);
    expect(suppressionIntents(event('email.resubscribed', { unsubscribe: { group: null } }))).toEqual([
      { op: 'remove', scope: 'global', reason: 'unsubscribe' },
    ]);
    expect(suppressionIntents(event('email.resubscribed'))).toEqual([
      { op: 'remove', scope: 'global', reason: 'unsubscribe' },
    ]);
  });

  it('every other type, canonical or custom, does nothing', () => {
    for (const type of [
      'email.sent',
      'email.delivered',
      'email.deferred',
      'email.failed',
      'email.opened',
      'email.clicked',
      'invoice.paid',
    ]) {
      expect(suppressionIntents(event(type)), type).toEqual([]);
    }
  });

  it('an event without a recipient does nothing, whatever its type', () => {
    expect(suppressionIntents(event('email.bounced', { recipient: null, bounce: bounce('hard') }))).toEqual(
      [],
    );
    expect(suppressionIntents(event('email.complained', { recipient: null }))).toEqual([]);
    expect(suppressionIntents(event('email.unsubscribed', { recipient: '' }))).toEqual([]);
  });
});

describe('softBouncesSuppress', () => {
  const at = T0 + 10 * DAY;

  /** The rule exactly as documented, tried for every soft bounce: slow, obviously right. */
  function byDefinition(history: RecipientHistoryItem[], when: number, policy: SoftBouncePolicy): boolean {
    const near = history.filter((h) => Math.abs(h.occurredAt - when) <= policy.windowMs);
    const softs = near.filter((h) => h.type === 'email.bounced' && h.bounceType === 'soft');
    const deliveries = near.filter((h) => h.type === 'email.delivered').map((h) => h.occurredAt);
    return softs.some((end) => {
      const from = end.occurredAt - policy.windowMs;
      let lastDelivery = Number.NEGATIVE_INFINITY;
      for (const d of deliveries) if (d >= from && d <= end.occurredAt && d > lastDelivery) lastDelivery = d;
      const counted = softs.filter(
        (s) => s.occurredAt >= from && s.occurredAt <= end.occurredAt && s.occurredAt > lastDelivery,
      );
      return counted.length >= policy.threshold;
    });
  }

  it('agrees with the rule as defined on 3,000 random histories (ties, window edges, hard bounces)', () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    let suppressed = 0;
    for (let i = 0; i < 3000; i++) {
      const policy = { threshold: between(random, 1, 4), windowMs: between(random, 1, 5) * DAY };
      // Times on a coarse grid, so that ties and exact window edges happen often.
      const time = () => at + (between(random, -24, 24) * DAY) / 2;
      const history = Array.from({ length: between(random, 0, 12) }, () => {
        const kind = pick(random, ['soft', 'soft', 'delivered', 'hard'] as const);
        if (kind === 'delivered') return deliveredAt(time());
        return { ...softAt(time()), bounceType: kind };
      });
      const expected = byDefinition(history, at, policy);
      if (expected) suppressed++;
      expect(softBouncesSuppress(history, at, policy), `seed ${seed}, case ${i}`).toBe(expected);
    }
    // Both answers occurred often enough for the comparison to mean something.
    expect(suppressed).toBeGreaterThan(300);
    expect(suppressed).toBeLessThan(2700);
  });

  it('answers for an address with 200,000 events in the window (a seed inbox) without overflowing', () => {
    const history: RecipientHistoryItem[] = [];
    for (let i = 0; i < 100_000; i++) {
      history.push(deliveredAt(at - DAY + i * 1000), softAt(at - DAY + i * 1000 + 500));
    }
    expect(softBouncesSuppress(history, at, POLICY)).toBe(false);
    expect(softBouncesSuppress([...history, softAt(at + DAY), softAt(at + DAY + 1)], at, POLICY)).toBe(true);
  });

  it('suppresses at the threshold and not below it', () => {
    expect(softBouncesSuppress([softAt(at - 2 * DAY), softAt(at - DAY), softAt(at)], at, POLICY)).toBe(true);
    expect(softBouncesSuppress([softAt(at - DAY), softAt(at)], at, POLICY)).toBe(false);
    expect(softBouncesSuppress([], at, POLICY)).toBe(false);
  });

  it('counts only soft bounces since the last delivery', () => {
    const history = [softAt(at - 3 * DAY), deliveredAt(at - 2 * DAY), softAt(at - DAY), softAt(at)];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(false);
    expect(softBouncesSuppress([...history, softAt(at - HOUR)], at, POLICY)).toBe(true);
  });

  it('a delivery at the same instant as a soft bounce hides that bounce', () => {
    const history = [softAt(at - 2 * DAY), deliveredAt(at - 2 * DAY), softAt(at - DAY), softAt(at)];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(false);
  });

  it('a delivery before the window does not reset the count', () => {
    const history = [deliveredAt(at - 8 * DAY), softAt(at - 2 * DAY), softAt(at - DAY), softAt(at)];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(true);
  });

  it('a window is inclusive at its start and ignores anything older', () => {
    const start = at - POLICY.windowMs;
    expect(softBouncesSuppress([softAt(start), softAt(at - DAY), softAt(at)], at, POLICY)).toBe(true);
    expect(softBouncesSuppress([softAt(start - 1), softAt(at - DAY), softAt(at)], at, POLICY)).toBe(false);
  });

  it('soft bounces after `at` within one window count, as when the provider posted them first', () => {
    expect(softBouncesSuppress([softAt(at), softAt(at + DAY), softAt(at + 2 * DAY)], at, POLICY)).toBe(true);
    expect(
      softBouncesSuppress([softAt(at - DAY), softAt(at), softAt(at + POLICY.windowMs)], at, POLICY),
    ).toBe(false);
    expect(
      softBouncesSuppress([softAt(at + POLICY.windowMs + 1), softAt(at - DAY), softAt(at)], at, POLICY),
    ).toBe(false);
  });

  it('a delivery after the soft bounces does not undo them', () => {
    const history = [softAt(at - 2 * DAY), softAt(at - DAY), softAt(at), deliveredAt(at + HOUR)];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(true);
  });

  it('a delivery after `at` resets the count of the soft bounces that follow it', () => {
    const history = [
      softAt(at - DAY),
      softAt(at),
      deliveredAt(at + HOUR),
      softAt(at + 2 * HOUR),
      softAt(at + 3 * HOUR),
    ];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(false);
    expect(softBouncesSuppress([...history, softAt(at + 4 * HOUR)], at, POLICY)).toBe(true);
  });

  it('hard and undetermined bounces and other types do not count as soft bounces', () => {
    const history: RecipientHistoryItem[] = [
      { type: 'email.bounced', bounceType: 'hard', occurredAt: at - 3 * DAY },
      { type: 'email.bounced', bounceType: 'undetermined', occurredAt: at - 2 * DAY },
      { type: 'email.bounced', bounceType: null, occurredAt: at - 2 * DAY },
      { type: 'email.deferred', bounceType: 'soft', occurredAt: at - DAY },
      softAt(at - HOUR),
      softAt(at),
    ];
    expect(softBouncesSuppress(history, at, POLICY)).toBe(false);
  });

  it('follows the policy threshold and window', () => {
    expect(softBouncesSuppress([softAt(at)], at, { threshold: 1, windowMs: DAY })).toBe(true);
    const history = [softAt(at - 2 * DAY), softAt(at - DAY), softAt(at)];
    expect(softBouncesSuppress(history, at, { threshold: 3, windowMs: DAY })).toBe(false);
    expect(softBouncesSuppress(history, at, { threshold: 4, windowMs: 30 * DAY })).toBe(false);
  });

  it('property: shuffled histories always give the same answer', () => {
    const scenarios: RecipientHistoryItem[][] = [
      [softAt(at - 2 * DAY), softAt(at - DAY), softAt(at)],
      [softAt(at - 3 * DAY), deliveredAt(at - 2 * DAY), softAt(at - DAY), softAt(at)],
      [softAt(at - 3 * DAY), deliveredAt(at - 3 * DAY), softAt(at - DAY), softAt(at - HOUR), softAt(at)],
      [softAt(at - 8 * DAY), softAt(at - 4 * DAY), softAt(at)],
      [
        deliveredAt(at - 6 * DAY),
        softAt(at - 5 * DAY),
        softAt(at - 5 * DAY),
        softAt(at),
        deliveredAt(at + 1),
      ],
      [
        { type: 'email.bounced', bounceType: 'hard', occurredAt: at - DAY },
        softAt(at - 2 * DAY),
        softAt(at),
        deliveredAt(at - 9 * DAY),
      ],
      [softAt(at), softAt(at + DAY), deliveredAt(at + 2 * DAY), softAt(at + 3 * DAY), softAt(at + 6 * DAY)],
      [softAt(at - 6 * DAY), softAt(at - 3 * DAY), softAt(at), softAt(at + 3 * DAY), softAt(at + 6 * DAY)],
    ];
    const random = mulberry32(0x5eed);
    const answers = new Set<boolean>();
    for (const [i, history] of scenarios.entries()) {
      const expected = softBouncesSuppress(history, at, POLICY);
      answers.add(expected);
      for (let run = 0; run < 200; run++) {
        expect(softBouncesSuppress(shuffled(history, random), at, POLICY), `scenario ${i}, run ${run}`).toBe(
          expected,
        );
      }
    }
    expect([...answers].sort()).toEqual([false, true]);
  });
});

describe('pipelineEffects', () => {
  it('routes with the fan-out rule and applies the suppression rules with the given policy', () => {
    const effects = pipelineEffects({ threshold: 2, windowMs: DAY });
    expect(effects.route).toBe(routeEvent);
    expect(effects.suppressions?.intents).toBe(suppressionIntents);
    expect(effects.suppressions?.windowMs).toBe(DAY);
    const history = [softAt(T0 - HOUR), softAt(T0)];
    expect(effects.suppressions?.softBouncesSuppress(history, T0)).toBe(true);
    expect(effects.suppressions?.softBouncesSuppress(history.slice(1), T0)).toBe(false);
  });

  it('defaults to three soft bounces in seven days', () => {
    expect(DEFAULT_SOFT_BOUNCE_POLICY).toEqual({ threshold: 3, windowMs: 7 * DAY });
    const effects = pipelineEffects();
    expect(effects.suppressions?.windowMs).toBe(7 * DAY);
    const two = [softAt(T0 - DAY), softAt(T0)];
    expect(effects.suppressions?.softBouncesSuppress(two, T0)).toBe(false);
    expect(effects.suppressions?.softBouncesSuppress([softAt(T0 - 6 * DAY), ...two], T0)).toBe(true);
  });
});
