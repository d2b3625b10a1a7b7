import { randomUUID } from 'node:crypto';

const TYPES = ['processed', 'delivered', 'delivered', 'open', 'click', 'bounce', 'deferred'];

/**
 * The events of one SendGrid Event Webhook post the bench sends: SendGrid's own fields (see
 * test/fixtures/sendgrid/), fresh ids, the types in a fixed mix. The load generator signs and posts
 * these; the storage floor (storage-floor.ts) stores the same. `sentAt` is the bench's own field for
 * the end-to-end latency, carried to the receiver.
 */
export function sendGridRecords(count: number, ts: number, sentAt?: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const msg = randomUUID().replace(/-/g, '').slice(0, 22);
    const event = TYPES[i % TYPES.length];
    return {
      email: `user.${msg.slice(0, 8)}@example.com`,
      timestamp: ts,
      'smtp-id': `<${msg}@ismtpd0001p1mdw1.sendgrid.net>`,
      event,
      category: ['bench'],
      sg_event_id: randomUUID(),
      sg_message_id: `${msg}.filterdrecv-p3mdw1-56c97568b5-abcde-18-5F5FC76C-9.0`,
      ...(event === 'bounce' && { type: 'bounce', status: '5.1.1', reason: '550 5.1.1 unknown user' }),
      ...(event === 'click' && { url: 'https://example.com/landing' }),
      ...(sentAt !== undefined && { bench_sent_at: sentAt }),
    };
  });
}
