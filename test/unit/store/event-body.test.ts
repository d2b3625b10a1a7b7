import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/events.js';
import {
  BODY_ELIDED,
  BODY_LEAN,
  BODY_WHOLE,
  type EventBodyRow,
  eventBody,
  eventJson,
  storedBody,
} from '../../../src/store/event-body.js';

/** The row a store writes for `event`: the columns as the writers take them, and the stored body. */
function rowOf(event: CanonicalEvent): EventBodyRow {
  const { body, format, receivedAt } = storedBody(event);
  return {
    id: event.id,
    type: event.type,
    occurred_at: Date.parse(event.timestamp),
    provider: event.data.provider ?? null,
    source_id: event.data.source_id,
    message_id: event.data.message_id ?? null,
    recipient: event.data.recipient ?? null,
    body,
    body_format: format,
    received_at: receivedAt,
  };
}

/**
 * The JSON a stored body holds once its column values held by reference (a control character in
 * place of their JSON string) are put back.
 */
function bodyJson(row: EventBodyRow): Record<string, unknown> {
  const text = row.body
    .replace('\u0001', () => JSON.stringify(row.message_id))
    .replace('\u0002', () => JSON.stringify(row.recipient));
  return JSON.parse(text) as Record<string, unknown>;
}

function delivered(): CanonicalEvent {
  return {
    id: 'evt_01M964W290NJCQAXP938TN1BVQ',
    type: 'email.delivered',
    timestamp: '2026-12-06T17:02:00.123Z',
    data: {
      provider: 'postmark',
      source_id: 'src_01M964W26G6A4PRWJDF0A9TRE9',
      provider_event_id: null,
      message_id: '883953f4-6105-42a2-a16a-77a8eac79483',
      recipient: 'Zoë "quoted" <zoe@example.com>\u2028',
      user_agent: null,
      ip: null,
      tags: ['welcome'],
      metadata: { plan: 'pro', nested: { n: 1 } },
      received_at: '2026-12-06T17:01:52.282Z',
      received_via: 'webhook',
      raw: { RecordType: 'Delivery', MessageID: '883953f4-6105-42a2-a16a-77a8eac79483', ServerID: 23 },
    },
  };
}

describe('stored event bodies', () => {
  it('stores a canonical event without the fields its columns hold, and reads back the JSON it delivers', () => {
    const event = delivered();
    const row = rowOf(event);
    expect(row.body_format).toBeGreaterThan(BODY_ELIDED);
    const body = bodyJson(row);
    for (const key of ['id', 'type', 'timestamp', 'provider', 'source_id', 'message_id', 'recipient'])
      expect(body).not.toHaveProperty(key);
    // At their usual value (received_at: in its column), so left out.
    for (const key of ['provider_event_id', 'user_agent', 'ip', 'received_at', 'received_via'])
      expect(body).not.toHaveProperty(key);
    expect(row.received_at).toBe(Date.parse(event.data.received_at));
    expect(Object.keys(body)).toEqual(['tags', 'metadata', 'raw']);
    expect(row.body.length).toBeLessThan(JSON.stringify(event).length - 330);
    expect(eventJson(row)).toBe(eventBody(event));
    expect(JSON.parse(eventJson(row))).toEqual(event);
  });

  it('keeps in the body each field that is not at its usual value, and reads every mix back', () => {
    const unusual: Record<string, unknown> = {
      provider_event_id: 'pe_1',
      user_agent: 'Mozilla/5.0',
      ip: '192.0.2.1',
      tags: [],
      metadata: {},
      received_at: '2026-12-06T17:01:52Z',
      received_via: 'api',
    };
    const usual = { tags: ['welcome'], metadata: { plan: 'pro' } };
    const keys = Object.keys(unusual);
    for (let mix = 0; mix < 1 << keys.length; mix++) {
      const event = delivered();
      const data = event.data as unknown as Record<string, unknown>;
      Object.assign(data, usual);
      keys.forEach((key, bit) => {
        if (mix & (1 << bit)) data[key] = unusual[key];
      });
      const row = rowOf(event);
      const body = bodyJson(row);
      keys.forEach((key, bit) => {
        // tags and metadata are left out only when empty, which `unusual` sets and `usual` does not.
        const leftOut = key === 'tags' || key === 'metadata' ? mix & (1 << bit) : !(mix & (1 << bit));
        expect(Object.hasOwn(body, key), `${key} in mix ${mix}`).toBe(!leftOut);
      });
      expect(row.received_at).toBe(mix & (1 << 5) ? null : Date.parse(event.data.received_at));
      expect(eventJson(row)).toBe(eventBody(event));
      expect(JSON.parse(eventJson(row))).toEqual(event);
    }
  });

  it('leaves the fields of other events where they are', () => {
    // A system event has no received_via; a published email event may lack others.
    const event = delivered();
    const { received_via: _via, user_agent: _ua, ...data } = event.data;
    const partial = { ...event, data: data as CanonicalEvent['data'] };
    const row = rowOf(partial);
    expect(Object.keys(bodyJson(row))).toEqual(['tags', 'metadata', 'raw']);
    expect(eventJson(row)).toBe(eventBody(partial));
    expect(JSON.parse(eventJson(row))).toEqual(partial);
    expect(JSON.parse(eventJson(row)).data).not.toHaveProperty('received_via');
  });

  it('stores whole data holding an own __proto__ field, which copying by assignment would lose', () => {
    const event = delivered();
    Object.defineProperty(event.data, '__proto__', {
      value: { polluted: true },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    const row = rowOf(event);
    expect(row.body_format).toBe(BODY_WHOLE);
    expect(eventJson(row)).toBe(JSON.stringify(event));
    expect(eventJson(row)).toContain('"__proto__":{"polluted":true}');
  });

  it('reads back null column fields, and data holding nothing but them', () => {
    const event = delivered();
    event.data.message_id = null;
    event.data.recipient = null;
    const bare: CanonicalEvent = {
      id: 'evt_bare',
      type: 'email.sent',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: { provider: null, source_id: 'src_x', message_id: null, recipient: null } as never,
    };
    for (const e of [event, bare]) {
      const row = rowOf(e);
      if (e === bare) expect(row.body_format).toBe(BODY_LEAN);
      expect(JSON.parse(eventJson(row))).toEqual(e);
      expect(eventJson(row)).toBe(eventBody(e));
    }
    expect(rowOf(bare).body).toBe('{}');
  });

  it('holds the message id and recipient the payload repeats by reference, and gives back the same bytes', () => {
    const event = delivered();
    const recipient = 'Zoë "quoted" <zoe@example.com>\u2028';
    const raw = { RecordType: 'Delivery', MessageID: event.data.message_id, Recipient: recipient, Tag: 'x' };
    event.data.raw = raw;
    const row = rowOf(event);
    // Mask bits 7 and 8: after the seven of ELIDED.
    expect((row.body_format - BODY_ELIDED) >> 7).toBe(0b11);
    expect(row.body).not.toContain(JSON.stringify(event.data.message_id));
    expect(row.body).not.toContain(JSON.stringify(recipient));
    const whole = JSON.stringify(bodyJson(row));
    const saved = JSON.stringify(event.data.message_id).length + JSON.stringify(recipient).length - 2;
    expect(row.body.length).toBe(whole.length - saved);
    expect(eventJson(row)).toBe(eventBody(event));
    expect(JSON.parse(eventJson(row))).toEqual(event);
  });

  it('puts a referenced value back exactly wherever it stood first, whatever it holds', () => {
    // 'b' stands inside the JSON string of 'a"b' ("a\\"b"), and the other way round does not.
    const values = [
      '$&$1$$',
      '',
      'a"b\\c',
      '\u0001\u0002',
      'é\u2028\ud83d\ude00',
      'MessageID',
      '{}',
      'b',
      'a"b',
    ];
    for (const message of values)
      for (const recipient of values) {
        const event = delivered();
        event.data.message_id = message;
        event.data.recipient = recipient;
        // As a key, a value, twice and inside tags and metadata: only the first is referenced.
        event.data.tags = [recipient, message];
        event.data.metadata = { [message]: recipient, nested: { [recipient]: message } };
        event.data.raw = { MessageID: message, Recipient: recipient, again: [message, recipient] };
        const row = rowOf(event);
        expect((row.body_format - BODY_ELIDED) >> 7, `${message} / ${recipient}`).toBe(0b11);
        expect(row.body.split('\u0001')).toHaveLength(2);
        expect(row.body.split('\u0002')).toHaveLength(2);
        expect(eventJson(row)).toBe(eventBody(event));
        expect(JSON.parse(eventJson(row))).toEqual(event);
      }
  });

  it('references nothing the body does not hold, nor a null column', () => {
    const event = delivered();
    event.data.raw = { RecordType: 'Delivery' };
    event.data.recipient = null;
    const row = rowOf(event);
    expect(row.body_format - BODY_ELIDED).toBeLessThan(1 << 7);
    expect(row.body.includes('\u0001') || row.body.includes('\u0002')).toBe(false);
    expect(JSON.parse(eventJson(row))).toEqual(event);
  });

  it('stores whole what the columns cannot give back exactly', () => {
    const ownType: CanonicalEvent = {
      ...delivered(),
      type: 'invoice.paid',
      data: { ...delivered().data, toJSON: () => ({ amount: 12, recipient: 'x@example.com' }) },
    };
    const secondsOnly = { ...delivered(), timestamp: '2026-12-06T17:02:00Z' };
    const { message_id: _dropped, ...withoutMessageId } = delivered().data;
    const missingField = { ...delivered(), data: withoutMessageId as CanonicalEvent['data'] };
    const undefinedRecipient = {
      ...delivered(),
      data: { ...delivered().data, recipient: undefined as never },
    };
    // A TEXT column would give a lone surrogate back as U+FFFD.
    const loneSurrogate = { ...delivered(), data: { ...delivered().data, message_id: 'm\ud800x' } };
    for (const event of [ownType, secondsOnly, missingField, undefinedRecipient, loneSurrogate]) {
      const row = rowOf(event);
      expect(row.body_format, event.timestamp).toBe(BODY_WHOLE);
      expect(row.body).toBe(JSON.stringify(event));
      expect(eventJson(row)).toBe(JSON.stringify(event));
    }
  });

  it('reads a row stored before migration 012 as it is', () => {
    const event = delivered();
    const row = { ...rowOf(event), body: JSON.stringify(event), body_format: BODY_WHOLE };
    expect(eventJson(row)).toBe(JSON.stringify(event));
  });

  it('reads a lean row stored before migration 013 as it is', () => {
    const event = delivered();
    const { provider, source_id, message_id, recipient, ...rest } = event.data;
    const row = { ...rowOf(event), body: JSON.stringify(rest), body_format: BODY_LEAN, received_at: null };
    expect(JSON.parse(eventJson(row))).toEqual(event);
    expect(eventJson(row)).toBe(
      JSON.stringify({ ...event, data: { provider, source_id, message_id, recipient, ...rest } }),
    );
  });

  it('takes occurred_at and received_at as PostgreSQL gives a BIGINT, as a string', () => {
    const event = delivered();
    const stored = rowOf(event);
    const row = {
      ...stored,
      occurred_at: String(Date.parse(event.timestamp)),
      received_at: String(stored.received_at),
    };
    expect(JSON.parse(eventJson(row))).toEqual(event);
  });
});
