import { describe, expect, it } from 'vitest';
import {
  type EndpointFilter,
  eventMatches,
  typeMatches,
  validateEventTypes,
  validateFilter,
} from '../../../src/delivery/filter.js';
import { MailhookError } from '../../../src/errors.js';
import type { CanonicalEvent } from '../../../src/events.js';

function event(overrides: Partial<CanonicalEvent['data']> = {}, type = 'email.bounced'): CanonicalEvent {
  return {
    id: 'evt_1',
    type,
    timestamp: '2026-11-26T12:00:00.000Z',
    data: {
      provider: 'sendgrid',
      source_id: 'src_1',
      provider_event_id: 'p1',
      message_id: 'm1',
      recipient: 'User@Example.COM',
      user_agent: null,
      ip: null,
      tags: ['welcome', 'onboarding'],
      metadata: { plan: 'pro', tenant: 42, beta: true },
      received_at: '2026-11-26T12:00:01.000Z',
      raw: {},
      ...overrides,
    },
  };
}

const matches = (filter: EndpointFilter | null, e = event(), eventTypes: string[] = []) =>
  eventMatches({ eventTypes, filter }, e);

function validationMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MailhookError);
    expect((err as MailhookError).code).toBe('MH_ERR_VALIDATION');
    return (err as MailhookError).message;
  }
  throw new Error('expected a validation error');
}

describe('typeMatches', () => {
  it('matches every type when the list is empty or holds *', () => {
    expect(typeMatches([], 'email.sent')).toBe(true);
    expect(typeMatches(['*'], 'invoice.paid')).toBe(true);
  });

  it('matches exact types only exactly', () => {
    expect(typeMatches(['email.bounced'], 'email.bounced')).toBe(true);
    expect(typeMatches(['email.bounced'], 'email.bounced.hard')).toBe(false);
    expect(typeMatches(['email.bounced'], 'email.delivered')).toBe(false);
  });

  it('matches a prefix wildcard on whole segments only', () => {
    expect(typeMatches(['email.*'], 'email.bounced')).toBe(true);
    expect(typeMatches(['email.*'], 'emailx.a')).toBe(false);
    expect(typeMatches(['email.*'], 'email')).toBe(false);
    expect(typeMatches(['email.*'], 'email.')).toBe(false);
    expect(typeMatches(['system.endpoint.*'], 'system.endpoint.failing')).toBe(true);
    expect(typeMatches(['system.endpoint.*'], 'system.other')).toBe(false);
  });

  it('matches when any one of several patterns matches', () => {
    expect(typeMatches(['invoice.paid', 'email.*'], 'email.opened')).toBe(true);
    expect(typeMatches(['invoice.paid', 'email.clicked'], 'email.opened')).toBe(false);
  });
});

describe('eventMatches', () => {
  it('matches on type alone when there is no filter', () => {
    expect(matches(null)).toBe(true);
    expect(matches(null, event(), ['email.delivered'])).toBe(false);
  });

  it('requires the type to match even when the filter does', () => {
    expect(matches({ tags: ['welcome'] }, event(), ['email.opened'])).toBe(false);
  });

  it('requires every metadata key to be present with the same JSON value', () => {
    expect(matches({ metadata: { plan: 'pro', tenant: 42, beta: true } })).toBe(true);
    expect(matches({ metadata: { plan: 'free' } })).toBe(false);
    expect(matches({ metadata: { missing: 'x' } })).toBe(false);
  });

  it('compares metadata strictly, so a number never matches its string form', () => {
    expect(matches({ metadata: { tenant: '42' } })).toBe(false);
    expect(matches({ metadata: { beta: 'true' } })).toBe(false);
    expect(matches({ metadata: { plan: 'pro' } }, event({ metadata: { plan: ['pro'] } }))).toBe(false);
  });

  it('does not find metadata keys on the object prototype', () => {
    expect(matches({ metadata: { toString: 'x' } }, event({ metadata: {} }))).toBe(false);
  });

  it('requires the event to carry every tag of the filter', () => {
    expect(matches({ tags: ['welcome'] })).toBe(true);
    expect(matches({ tags: ['welcome', 'onboarding'] })).toBe(true);
    expect(matches({ tags: ['welcome', 'billing'] })).toBe(false);
    expect(matches({ tags: [] })).toBe(true);
  });

  it('matches the recipient domain exactly and case-insensitively', () => {
    expect(matches({ recipient_domains: ['example.com'] })).toBe(true);
    expect(matches({ recipient_domains: ['other.org', 'example.com'] })).toBe(true);
    expect(matches({ recipient_domains: ['mail.example.com'] })).toBe(false);
    expect(matches({ recipient_domains: ['example.com'] }, event({ recipient: 'a@mail.example.com' }))).toBe(
      false,
    );
  });

  it('takes the domain after the last @ of the recipient', () => {
    const quoted = event({ recipient: '"a@b"@example.com' });
    expect(matches({ recipient_domains: ['example.com'] }, quoted)).toBe(true);
    expect(matches({ recipient_domains: ['b"'] }, quoted)).toBe(false);
  });

  it('does not match a domain filter when the event has no usable recipient', () => {
    expect(matches({ recipient_domains: ['example.com'] }, event({ recipient: null }))).toBe(false);
    expect(matches({ recipient_domains: ['example.com'] }, event({ recipient: 'nobody' }))).toBe(false);
    expect(matches({ recipient_domains: ['example.com'] }, event({ recipient: 'x@' }))).toBe(false);
  });

  it('requires all clauses to hold together', () => {
    const filter = { metadata: { plan: 'pro' }, tags: ['welcome'], recipient_domains: ['example.com'] };
    expect(matches(filter)).toBe(true);
    expect(matches(filter, event({ tags: [] }))).toBe(false);
  });

  it('reads the top level of a stored own-type event, whatever its data holds, without throwing', () => {
    /** An event of the publisher's own type as the store returns it: their data, nothing added. */
    const own = (data: unknown) =>
      ({ id: 'evt_2', type: 'invoice.paid', timestamp: '2026-11-26T12:00:00.000Z', data }) as CanonicalEvent;
    const published = own({
      invoice_id: 'inv_9',
      tags: ['vip', 7],
      metadata: { plan: 'pro' },
      recipient: 'a@Example.com',
    });
    expect(matches({ tags: ['vip'] }, published)).toBe(true);
    expect(matches({ metadata: { plan: 'pro' } }, published)).toBe(true);
    expect(matches({ recipient_domains: ['example.com'] }, published)).toBe(true);
    expect(matches({ tags: ['gold'] }, published)).toBe(false);
    // Keys of these names in other shapes are the publisher's business: they match no clause.
    const odd = own({ tags: 'vip', metadata: ['plan'], recipient: 42 });
    expect(matches({ tags: ['vip'] }, odd)).toBe(false);
    expect(matches({ metadata: { 0: 'plan' } }, odd)).toBe(false);
    expect(matches({ recipient_domains: ['example.com'] }, odd)).toBe(false);
    expect(matches(null, odd)).toBe(true);
    expect(matches({ tags: ['vip'] }, own({}))).toBe(false);
  });
});

describe('validateEventTypes', () => {
  it('treats a missing list as all types', () => {
    expect(validateEventTypes(undefined)).toEqual([]);
    expect(validateEventTypes(null)).toEqual([]);
  });

  it('accepts exact types, prefix wildcards and *, without duplicates', () => {
    expect(
      validateEventTypes(['email.bounced', 'email.*', '*', 'invoice.paid', 'system.endpoint.*', 'a_b-c.d']),
    ).toEqual(['email.bounced', 'email.*', '*', 'invoice.paid', 'system.endpoint.*', 'a_b-c.d']);
    expect(validateEventTypes(['email.sent', 'email.sent'])).toEqual(['email.sent']);
  });

  it('refuses something other than an array of strings', () => {
    expect(validationMessage(() => validateEventTypes('email.*'))).toBe(
      'event_types must be an array of strings',
    );
    expect(validationMessage(() => validateEventTypes([1]))).toBe('event_types must be an array of strings');
  });

  it('refuses patterns outside the syntax, naming the pattern', () => {
    for (const pattern of [
      'Email.sent',
      'email.b*',
      'email..sent',
      '.email',
      'email.',
      '**',
      'a b',
      '',
      '*.sent',
    ]) {
      expect(validationMessage(() => validateEventTypes([pattern]))).toContain(
        `"${pattern}" is not a valid pattern`,
      );
    }
    expect(validationMessage(() => validateEventTypes(['a'.repeat(101)]))).toContain('not a valid pattern');
  });

  it('refuses email patterns that no canonical email type can match', () => {
    const message = validationMessage(() => validateEventTypes(['email.exploded']));
    expect(message).toContain('"email.exploded" matches no email event type');
    expect(message).toContain('email.bounced');
    expect(validationMessage(() => validateEventTypes(['email.bounced.*']))).toContain('matches no email');
  });

  it('accepts system patterns that name a system type, and refuses the ones that name none', () => {
    expect(validateEventTypes(['system.*', 'system.endpoint.*', 'system.source.silent'])).toEqual([
      'system.*',
      'system.endpoint.*',
      'system.source.silent',
    ]);
    const message = validationMessage(() => validateEventTypes(['system.endpoint.failng']));
    expect(message).toContain('"system.endpoint.failng" matches no system event type');
    expect(message).toContain('system.endpoint.failing');
  });

  it('refuses more than 100 patterns', () => {
    const many = Array.from({ length: 101 }, (_, i) => `custom.t${i}`);
    expect(validationMessage(() => validateEventTypes(many))).toContain('at most 100');
  });
});

describe('validateFilter', () => {
  it('returns null for a missing or empty filter', () => {
    expect(validateFilter(undefined)).toBeNull();
    expect(validateFilter(null)).toBeNull();
    expect(validateFilter({})).toBeNull();
    expect(validateFilter({ metadata: {}, tags: [], recipient_domains: [] })).toBeNull();
  });

  it('returns the clauses normalised: domains lower-cased and deduplicated, empty clauses dropped', () => {
    expect(
      validateFilter({
        metadata: { plan: 'pro', tenant: 42, beta: false },
        tags: ['welcome'],
        recipient_domains: ['Example.COM', 'example.com'],
      }),
    ).toEqual({
      metadata: { plan: 'pro', tenant: 42, beta: false },
      tags: ['welcome'],
      recipient_domains: ['example.com'],
    });
    expect(validateFilter({ tags: ['x'], metadata: {} })).toEqual({ tags: ['x'] });
  });

  it('refuses a filter that is not an object', () => {
    for (const value of ['x', 1, [], true]) {
      expect(validationMessage(() => validateFilter(value))).toBe('filter must be an object');
    }
  });

  it('refuses unknown keys, naming them and the allowed ones', () => {
    expect(validationMessage(() => validateFilter({ tags: ['a'], recipients: ['x'] }))).toBe(
      'filter: unknown key "recipients"; allowed: metadata, tags, recipient_domains',
    );
    expect(validationMessage(() => validateFilter(JSON.parse('{"__proto__": {"tags": []}}')))).toContain(
      'unknown key "__proto__"',
    );
  });

  it('refuses metadata values that cannot be compared with ===', () => {
    expect(validationMessage(() => validateFilter({ metadata: [] }))).toContain(
      'filter.metadata must be an object',
    );
    for (const value of [null, { a: 1 }, [1], Number.NaN]) {
      expect(validationMessage(() => validateFilter({ metadata: { k: value } }))).toContain(
        'filter.metadata.k must be a string, a number or a boolean',
      );
    }
  });

  it('refuses tags and domains that are not arrays of non-empty strings', () => {
    expect(validationMessage(() => validateFilter({ tags: 'a' }))).toBe(
      'filter.tags must be an array of non-empty strings',
    );
    expect(validationMessage(() => validateFilter({ tags: [''] }))).toBe(
      'filter.tags must be an array of non-empty strings',
    );
    expect(validationMessage(() => validateFilter({ recipient_domains: [3] }))).toBe(
      'filter.recipient_domains must be an array of non-empty strings',
    );
  });

  it('refuses an address or a spaced value where a domain is expected', () => {
    expect(validationMessage(() => validateFilter({ recipient_domains: ['a@example.com'] }))).toContain(
      '"a@example.com" is not a domain',
    );
    expect(validationMessage(() => validateFilter({ recipient_domains: ['exa mple.com'] }))).toContain(
      'is not a domain',
    );
  });

  it('refuses lists longer than 100 entries', () => {
    const many = Array.from({ length: 101 }, (_, i) => `t${i}`);
    expect(validationMessage(() => validateFilter({ tags: many }))).toContain('at most 100');
  });

  it('produces a filter that eventMatches applies as validated', () => {
    const filter = validateFilter({ recipient_domains: ['EXAMPLE.com'] });
    expect(matches(filter)).toBe(true);
  });
});

describe('system events', () => {
  it('go only to endpoints that name system types, not to catch-all endpoints', () => {
    expect(typeMatches([], 'system.endpoint.failing')).toBe(false);
    expect(typeMatches(['*'], 'system.endpoint.failing')).toBe(false);
    expect(typeMatches(['system.*'], 'system.endpoint.failing')).toBe(true);
    expect(typeMatches(['system.endpoint.*'], 'system.endpoint.failing')).toBe(true);
    expect(typeMatches(['system.endpoint.*'], 'system.source.silent')).toBe(false);
    expect(typeMatches(['system.source.silent'], 'system.source.silent')).toBe(true);
    expect(typeMatches([], 'email.delivered')).toBe(true);
  });
});
