import { newId } from '../../src/ids.js';
import type { InboxInsert } from '../../src/store/store.js';

/** A single-event Postmark post with `body`, as the ingest path hands it to the store. */
export function postmarkRow(
  sourceId: string,
  body: Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): InboxInsert {
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'postmark',
    receivedAt: new Date(),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers,
    body,
  };
}

/** A Postmark Delivery post (fields as Postmark documents them), as the ingest path stores it. */
export function postmarkDeliveryRow(
  sourceId: string,
  messageId: string,
  recipient = 'ada@example.com',
): InboxInsert {
  const body = JSON.stringify({
    RecordType: 'Delivery',
    ServerID: 23,
    MessageStream: 'outbound',
    MessageID: messageId,
    Recipient: recipient,
    Tag: 'welcome',
    DeliveredAt: '2026-12-01T10:00:00Z',
    Details: 'Test delivery webhook details',
    Metadata: {},
  });
  return postmarkRow(sourceId, Buffer.from(body));
}
