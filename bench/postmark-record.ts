import { randomUUID } from 'node:crypto';

const POSTMARK_TYPES = ['Delivery', 'Delivery', 'Open', 'Click', 'Bounce'];

/**
 * The `n`th single-event Postmark webhook body the bench sends: Postmark's own shape (see
 * test/fixtures/postmark/), a fresh MessageID and a 100 ns timestamp, the record types in a fixed mix
 * (two deliveries, an open, a click, a hard bounce in every five). The load generator posts these;
 * the storage floor (storage-floor.ts) stores the same. The disk section keeps its own mix
 * (disk.ts), the one its documented bytes per post were measured with. `sentAt` goes into the
 * record's `Metadata` as `bench_sent_at` (a string, as Postmark's metadata values are), which mailhook
 * carries to the canonical `data.metadata`, where the end-to-end receiver reads it.
 */
export function postmarkRecord(n: number, sentAt?: number): Buffer {
  const recordType = POSTMARK_TYPES[n % POSTMARK_TYPES.length] as string;
  const messageId = randomUUID();
  const at = new Date().toISOString().replace('Z', `${String((n + 1) % 10_000).padStart(4, '0')}Z`);
  const recipient = `user.${messageId.slice(0, 8)}@example.com`;
  const common = {
    RecordType: recordType,
    MessageID: messageId,
    MessageStream: 'outbound',
    Tag: 'bench',
    ...(sentAt !== undefined && { Metadata: { bench_sent_at: String(sentAt) } }),
  };
  const record: Record<string, unknown> =
    recordType === 'Delivery'
      ? { ...common, Recipient: recipient, DeliveredAt: at, Details: 'Test delivery webhook details' }
      : recordType === 'Open'
        ? { ...common, Recipient: recipient, ReceivedAt: at, FirstOpen: true, UserAgent: 'Mozilla/5.0' }
        : recordType === 'Click'
          ? { ...common, Recipient: recipient, ReceivedAt: at, OriginalLink: 'https://example.com/landing' }
          : {
              ...common,
              ID: Math.floor(Math.random() * 2 ** 48),
              Type: 'HardBounce',
              TypeCode: 1,
              Email: recipient,
              BouncedAt: at,
              Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist',
              Description:
                'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
            };
  return Buffer.from(JSON.stringify(record));
}
