import { describe, expect, it } from 'vitest';
import { pendingRowOf } from '../../../src/store/rows.js';
import type { InboxInsert } from '../../../src/store/store.js';

describe('pendingRowOf', () => {
  it('keeps every field of the request but its one-time token, as a row not yet processed', () => {
    // Required<>: a field added to InboxInsert fails to compile here until it is listed, and then the
    // comparison below fails if pendingRowOf does not carry it.
    const insert: Required<InboxInsert> = {
      id: 'in_01M964W290NJCQAXP938TN1BVQ',
      sourceId: 'src_01M964W26G6A4PRWJDF0A9TRE9',
      provider: 'mailgun',
      receivedAt: new Date('2026-12-07T08:00:00.000Z'),
      method: 'POST',
      path: '/ingest/src_01M964W26G6A4PRWJDF0A9TRE9',
      query: 'a=1',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"event":"delivered"}'),
      oneTimeToken: { token: 't', bodyHash: 'h', expiresAt: new Date('2026-12-07T08:10:00.000Z') },
      trace: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    const { oneTimeToken: _, ...kept } = insert;
    expect(pendingRowOf(insert)).toStrictEqual({
      ...kept,
      status: 'pending',
      attempts: 0,
      error: null,
      notes: [],
      eventCount: 0,
      duplicateCount: 0,
      processedAt: null,
    });
  });

  it('leaves trace out when the request has none', () => {
    const row = pendingRowOf({
      id: 'in_1',
      sourceId: 'src_1',
      provider: 'postmark',
      receivedAt: new Date(),
      method: 'POST',
      path: '/ingest/src_1',
      query: '',
      headers: {},
      body: Buffer.alloc(0),
    });
    expect(Object.hasOwn(row, 'trace')).toBe(false);
  });
});
