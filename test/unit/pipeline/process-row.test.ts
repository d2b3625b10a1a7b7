import { describe, expect, it } from 'vitest';
import { processRow } from '../../../src/pipeline/process-row.js';
import type { InboxRow } from '../../../src/store/store.js';

function inboxRow(provider: string, body: string, headers: Record<string, string> = {}): InboxRow {
  return {
    id: 'in_1',
    sourceId: 'src_1',
    provider,
    receivedAt: new Date('2026-11-26T12:00:01.000Z'),
    method: 'POST',
    path: '/ingest/src_1',
    query: '',
    headers,
    body: Buffer.from(body),
    status: 'pending',
    attempts: 0,
    error: null,
    notes: [],
    eventCount: 0,
    duplicateCount: 0,
    processedAt: null,
  };
}

describe('processRow', () => {
  it('turns a SendGrid row into canonical events with mailhook ids, the source and the receive time', () => {
    const body = JSON.stringify([
      {
        email: 'a@example.com',
        timestamp: 1_795_000_000,
        event: 'delivered',
        sg_event_id: 'e1',
        sg_message_id: 'm1.x',
      },
    ]);
    const outcome = processRow(inboxRow('sendgrid', body));
    expect(outcome.kind).toBe('processed');
    if (outcome.kind !== 'processed') return;
    expect(outcome.events).toHaveLength(1);
    const [{ dedupKey, event }] = outcome.events as [(typeof outcome.events)[number]];
    expect(dedupKey).toBe('e1');
    expect(event).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'email.delivered',
      timestamp: new Date(1_795_000_000_000).toISOString(),
      data: {
        provider: 'sendgrid',
        source_id: 'src_1',
        provider_event_id: 'e1',
        message_id: 'm1',
        recipient: 'a@example.com',
        user_agent: null,
        ip: null,
        tags: [],
        metadata: {},
        received_at: '2026-11-26T12:00:01.000Z',
        received_via: 'webhook',
        raw: JSON.parse(body)[0],
      },
    });
    expect(Object.keys(event.data).at(-1)).toBe('raw');
  });

  it('quarantines a malformed row with the parser message instead of throwing', () => {
    expect(processRow(inboxRow('sendgrid', 'nope'))).toEqual({
      inboxId: 'in_1',
      kind: 'quarantined',
      error: 'body is not valid JSON',
    });
  });

  it('quarantines a row whose provider has no adapter', () => {
    expect(processRow(inboxRow('pigeon', '{}'))).toMatchObject({
      kind: 'quarantined',
      error: expect.stringContaining('pigeon'),
    });
  });

  it('keeps the reasons for skipped items as notes', () => {
    const body = JSON.stringify([{ event: 'account_status_change', type: 'compliance_ban', timestamp: 1 }]);
    const outcome = processRow(inboxRow('sendgrid', body));
    expect(outcome).toMatchObject({ kind: 'processed', events: [], notes: [{ index: 0 }] });
  });

  it("stores no NUL: a provider's U+0000 becomes U+FFFD in the event, its raw data and its dedup key", () => {
    const body = JSON.stringify([
      {
        email: 'a\u0000@example.com',
        timestamp: 1_795_000_000,
        event: 'bounce',
        type: 'bounce',
        reason: '550 no such user\u0000',
        sg_event_id: 'e\u00001',
        'custom\u0000arg': 'v\u0000',
      },
    ]);
    expect(body).toContain('\\u0000');
    const outcome = processRow(inboxRow('sendgrid', body));
    expect(outcome.kind).toBe('processed');
    if (outcome.kind !== 'processed') return;
    const [{ dedupKey, event }] = outcome.events as [(typeof outcome.events)[number]];
    expect(dedupKey).toBe('e\uFFFD1');
    expect(event.data.recipient).toBe('a\uFFFD@example.com');
    expect(event.data.raw).toMatchObject({ sg_event_id: 'e\uFFFD1', 'custom\uFFFDarg': 'v\uFFFD' });
    expect(JSON.stringify(event)).not.toContain('\\u0000');
  });
});
