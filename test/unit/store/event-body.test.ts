import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/events.js';
import {
  BODY_LEAN,
  BODY_WHOLE,
  type EventBodyRow,
  eventBody,
  eventJson,
  storedBody,
} from '../../../src/store/event-body.js';

/** The row a store writes for `event`: the columns as the writers take them, and the stored body. */
function rowOf(event: CanonicalEvent): EventBodyRow {
  const { body, format } = storedBody(event);
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
  };
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
    expect(row.body_format).toBe(BODY_LEAN);
    const body = JSON.parse(row.body) as Record<string, unknown>;
    for (const key of ['id', 'type', 'timestamp', 'provider', 'source_id', 'message_id', 'recipient'])
      expect(body).not.toHaveProperty(key);
    expect(body).toHaveProperty('raw');
    expect(row.body.length).toBeLessThan(JSON.stringify(event).length - 200);
    expect(eventJson(row)).toBe(eventBody(event));
    expect(JSON.parse(eventJson(row))).toEqual(event);
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
      expect(row.body_format).toBe(BODY_LEAN);
      expect(JSON.parse(eventJson(row))).toEqual(e);
      expect(eventJson(row)).toBe(eventBody(e));
    }
    expect(rowOf(bare).body).toBe('{}');
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

  it('takes occurred_at as PostgreSQL gives a BIGINT, as a string', () => {
    const event = delivered();
    const row = { ...rowOf(event), occurred_at: String(Date.parse(event.timestamp)) };
    expect(JSON.parse(eventJson(row))).toEqual(event);
  });
});
