import { describe, expect, it } from 'vitest';
import { ownTypeData, readCanonicalEvent } from '../../src/canonical-input.js';
import type { CanonicalEvent } from '../../src/events.js';

const AT = new Date('2026-11-26T12:00:00.000Z');

describe('readCanonicalEvent, for a type outside email.*', () => {
  it('keeps the data exactly as given, through the spreads that add provider and source', () => {
    const data = { invoice_id: 'inv_9', amount: 42, lines: [{ sku: 'A', qty: 2 }], paid: true, note: null };
    const read = readCanonicalEvent({ type: 'invoice.paid', data }, { fallbackTimestamp: AT });
    // As src/api/publish.ts and src/pipeline/process-row.ts build the stored event.
    const { raw: _raw, ...fields } = read.data;
    const event: CanonicalEvent = {
      id: 'evt_1',
      type: read.type,
      timestamp: read.timestamp.toISOString(),
      data: {
        provider: 'api',
        source_id: 'src_published',
        ...fields,
        received_at: AT.toISOString(),
        raw: null,
      },
    };
    expect(JSON.parse(JSON.stringify(event))).toEqual({
      id: 'evt_1',
      type: 'invoice.paid',
      timestamp: '2026-11-26T12:00:00.000Z',
      data,
    });
    // The envelope keeps its order: system-events.ts recognises payloads by their first bytes.
    expect(JSON.stringify(event)).toMatch(
      /^\{"id":"evt_1","type":"invoice\.paid","timestamp":"[^"]+","data":\{/,
    );
  });

  it('gives an event without data an empty object, and refuses data that is not an object', () => {
    const read = readCanonicalEvent({ type: 'invoice.paid' }, { fallbackTimestamp: AT });
    expect(JSON.parse(JSON.stringify(read.data))).toEqual({});
    for (const data of [null, [1], 'text', 5]) {
      expect(() => readCanonicalEvent({ type: 'invoice.paid', data }, { fallbackTimestamp: AT })).toThrow(
        /data must be an object/,
      );
    }
  });

  it('does not ask an own type for a recipient, even when publishing requires one for email.*', () => {
    const options = { fallbackTimestamp: AT, requireRecipient: true };
    expect(() => readCanonicalEvent({ type: 'invoice.paid', data: {} }, options)).not.toThrow();
    expect(() => readCanonicalEvent({ type: 'email.delivered', data: {} }, options)).toThrow(/recipient/);
  });
});

describe('ownTypeData', () => {
  it('indexes a top-level recipient (normalised) and message id, leaving the data as given', () => {
    const published = {
      recipient: ' Owner@Example.COM ',
      message_id: 'acct-1',
      tags: ['a', 1],
      metadata: { k: 'v' },
    };
    const data = ownTypeData(published, 'key-1');
    expect(data).toMatchObject({
      recipient: 'owner@example.com',
      message_id: 'acct-1',
      provider_event_id: 'key-1',
      tags: ['a'],
      metadata: { k: 'v' },
    });
    expect(JSON.parse(JSON.stringify(data))).toEqual(published);
  });

  it('indexes nothing it cannot: other shapes, and strings too long for an index entry', () => {
    const odd = ownTypeData({ recipient: 42, message_id: { id: 1 }, tags: 'vip', metadata: [1] });
    expect(odd).toMatchObject({ recipient: null, message_id: null, tags: [], metadata: {} });
    const long = ownTypeData({ recipient: `${'a'.repeat(400)}@example.com`, message_id: 'm'.repeat(1200) });
    expect(long).toMatchObject({ recipient: null, message_id: null });
    expect(JSON.parse(JSON.stringify(long)).message_id).toHaveLength(1200);
  });

  it('replaces NUL in the data it keeps, which PostgreSQL could not store', () => {
    const data = ownTypeData({ 'k\u0000': 'v\u0000', nested: ['x\u0000'] });
    expect(JSON.stringify(data)).not.toContain('\\u0000');
    expect(JSON.parse(JSON.stringify(data))).toEqual({ 'k\uFFFD': 'v\uFFFD', nested: ['x\uFFFD'] });
  });
});
