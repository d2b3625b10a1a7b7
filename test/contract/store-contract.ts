import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import type {
  BatchSummary,
  EventCursor,
  EventFilter,
  EventPosition,
  EventQuery,
  InboxInsert,
  InboxNote,
  InboxRow,
  NewEvent,
  RowOutcome,
  SourceRecord,
  Store,
} from '../../src/store/store.js';

/**
 * The Store contract: every implementation (SQLite, PostgreSQL) runs this same suite through the
 * Store interface only. Each test gets a fresh, migrated store from `makeStore` and owns its state.
 */
export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const MINUTE = 60_000;

/** ISO timestamp `minutes` after T0, as providers report it (UTC, milliseconds). */
function isoAt(minutes: number): string {
  return new Date(T0 + minutes * MINUTE).toISOString();
}

function sourceRecord(overrides: Partial<SourceRecord> = {}): SourceRecord {
  return {
    id: newId('source'),
    name: 'Marketing (SendGrid)',
    provider: 'sendgrid',
    config: {
      public_key:
        'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==',
    },
    enabled: true,
    state: {},
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    ...overrides,
  };
}

let receivedSeq = 0;

/** A verified SendGrid post; ids and receivedAt both grow with every call, like real traffic. */
function inboxInsert(sourceId: string, overrides: Partial<InboxInsert> = {}): InboxInsert {
  receivedSeq++;
  const body = JSON.stringify([
    { email: 'ada@example.com', event: 'delivered', sg_event_id: `sg_${receivedSeq}`, timestamp: 1795176000 },
  ]);
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'sendgrid',
    receivedAt: new Date(T0 + receivedSeq * 1000 + 7),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'SendGrid Event API',
      'x-twilio-email-event-webhook-signature':
        'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=',
      'x-twilio-email-event-webhook-timestamp': '1795176000',
    },
    body: Buffer.from(`${body}\r\n`),
    ...overrides,
  };
}

interface EventSpec {
  type?: string;
  timestamp?: string;
  sourceId?: string;
  recipient?: string | null;
  messageId?: string | null;
  id?: string;
}

/** A canonical event shaped like what the SendGrid adapter produces. */
function canonicalEvent(spec: EventSpec = {}): CanonicalEvent {
  const type = spec.type ?? 'email.delivered';
  const timestamp = spec.timestamp ?? isoAt(0);
  const recipient = spec.recipient === undefined ? 'ada@example.com' : spec.recipient;
  const messageId =
    spec.messageId === undefined
      ? 'x5vSjPT7RUq2b4kLzO8rqA.filterdrecv-5bd8c7f9-abcde-1-6727'
      : spec.messageId;
  const providerEventId = `sg_${Math.random().toString(36).slice(2, 12)}`;
  const sendgridEvent = type.replace(/^email\./, '');
  return {
    id: spec.id ?? newId('event'),
    type,
    timestamp,
    data: {
      provider: 'sendgrid',
      source_id: spec.sourceId ?? 'src_01JD0000000000000000000000',
      provider_event_id: providerEventId,
      message_id: messageId,
      recipient,
      ...(type === 'email.bounced' && {
        bounce: {
          type: 'hard',
          code: '5.1.1',
          reason: "550 5.1.1 The email account that you tried to reach doesn't exist.",
        },
      }),
      ...(type === 'email.clicked' && {
        click: { url: 'https://example.com/pricing?utm_source=newsletter' },
      }),
      ...(type === 'email.opened' && { open: { machine: false } }),
      user_agent: type === 'email.clicked' ? 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)' : null,
      ip: type === 'email.clicked' ? '203.0.113.42' : null,
      tags: ['newsletter', 'november'],
      metadata: { customer_id: '42', plan: { tier: 'pro', seats: 5 }, note: 'Zoë — café' },
      received_at: new Date(Date.parse(timestamp) + 1234).toISOString(),
      raw: {
        email: recipient,
        event: sendgridEvent,
        sg_event_id: providerEventId,
        sg_message_id: messageId,
        'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
        timestamp: Math.floor(Date.parse(timestamp) / 1000),
        category: ['newsletter', 'november'],
        customer_id: '42',
        response: '250 2.0.0 OK  1795176000 x5si123456qkb.12 - gsmtp',
        attempt: null,
        nested: [1, 2.5, true, { deep: ['a', null] }],
      },
    },
  };
}

function newEvent(spec: EventSpec = {}, dedupKey?: string): NewEvent {
  const event = canonicalEvent(spec);
  return { dedupKey: dedupKey ?? event.data.provider_event_id ?? event.id, event };
}

function processed(row: InboxRow, events: NewEvent[] = [], notes: InboxNote[] = []): RowOutcome {
  return { inboxId: row.id, kind: 'processed', events, notes };
}

function quarantined(row: InboxRow, error: string): RowOutcome {
  return { inboxId: row.id, kind: 'quarantined', error };
}

/** Stores events the way the pipeline does: one inbox row per source, processed in one batch. */
async function storeEvents(store: Store, events: NewEvent[]): Promise<BatchSummary> {
  const bySource = new Map<string, NewEvent[]>();
  for (const item of events) {
    const list = bySource.get(item.event.data.source_id) ?? [];
    list.push(item);
    bySource.set(item.event.data.source_id, list);
  }
  const rows = [...bySource.keys()].map((sourceId) => inboxInsert(sourceId));
  await store.appendInbox(rows);
  const summary = await store.processInbox(rows.length, (claimed) =>
    claimed.map((row) => processed(row, bySource.get(row.sourceId) ?? [])),
  );
  expect(summary.rows).toBe(rows.length);
  return summary;
}

/** Processes every pending row, deciding per row whether it is processed (no events) or quarantined. */
async function settle(store: Store, quarantine: ReadonlySet<string> = new Set()): Promise<void> {
  await store.processInbox(1000, (rows) =>
    rows.map((row) =>
      quarantine.has(row.id) ? quarantined(row, 'unexpected token < in JSON') : processed(row),
    ),
  );
}

function ids(items: readonly { id: string }[]): string[] {
  return items.map((item) => item.id);
}

/** The reference order of listEvents: timestamp descending, then id descending. */
function newestFirst(a: CanonicalEvent, b: CanonicalEvent): number {
  const byTime = Date.parse(b.timestamp) - Date.parse(a.timestamp);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The reference semantics of EventQuery filters (since inclusive, until exclusive). */
function matches(event: CanonicalEvent, query: Omit<EventQuery, 'limit'>): boolean {
  const time = Date.parse(event.timestamp);
  return (
    (query.type === undefined || event.type === query.type) &&
    (query.recipient === undefined || event.data.recipient === query.recipient) &&
    (query.messageId === undefined || event.data.message_id === query.messageId) &&
    (query.sourceId === undefined || event.data.source_id === query.sourceId) &&
    (query.since === undefined || time >= query.since.getTime()) &&
    (query.until === undefined || time < query.until.getTime())
  );
}

async function allEventPages(
  store: Store,
  query: Omit<EventQuery, 'limit' | 'cursor'>,
  limit: number,
): Promise<CanonicalEvent[][]> {
  const pages: CanonicalEvent[][] = [];
  let cursor: EventCursor | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.listEvents({ ...query, limit, ...(cursor && { cursor }) });
    pages.push(page.items);
    if (!page.next) return pages;
    cursor = page.next;
  }
  throw new Error('listEvents pagination did not end');
}

async function allInboxPages(
  store: Store,
  query: { status?: InboxRow['status']; sourceId?: string },
  limit: number,
): Promise<InboxRow[][]> {
  const pages: InboxRow[][] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.listInbox({ ...query, limit, ...(cursor && { cursor }) });
    pages.push(page.items);
    if (!page.next) return pages;
    cursor = page.next;
  }
  throw new Error('listInbox pagination did not end');
}

export function runStoreContract(name: string, makeStore: MakeStore): void {
  describe(name, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    describe('lifecycle', () => {
      it('migrate() applied twice applies nothing the second time', async () => {
        expect(await store.migrate()).toEqual([]);
      });

      it('ping() resolves on a migrated store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('a fresh store is empty', async () => {
        expect(await store.listSources()).toEqual([]);
        expect(await store.countInbox()).toEqual({ pending: 0, processed: 0, quarantined: 0 });
        expect(await store.countEvents()).toBe(0);
        expect(await store.countApiKeys()).toBe(0);
      });
    });

    describe('sources', () => {
      it('createSource then getSource returns every field as given', async () => {
        const source = sourceRecord({ createdAt: new Date(T0 + 123), updatedAt: new Date(T0 + 123) });
        await store.createSource(source);
        expect(await store.getSource(source.id)).toEqual(source);
      });

      it('listSources returns every live source', async () => {
        const a = sourceRecord({ name: 'Transactional (Postmark)', provider: 'postmark', config: {} });
        const b = sourceRecord({ enabled: false });
        await store.createSource(a);
        await store.createSource(b);
        const listed = await store.listSources();
        expect([...listed].sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual([a, b]);
      });

      it('getSource returns null for an unknown id', async () => {
        expect(await store.getSource(newId('source'))).toBeNull();
      });

      it('updateSource changes the name, replaces the config, toggles enabled and moves updatedAt', async () => {
        const source = sourceRecord({ config: { public_key: 'old-key', extra: { a: 1 } } });
        await store.createSource(source);
        const later = new Date(T0 + 5 * MINUTE);
        const updated = await store.updateSource(
          source.id,
          { name: 'Marketing EU', config: { public_key: 'new-key' }, enabled: false },
          later,
        );
        const expected = {
          ...source,
          name: 'Marketing EU',
          config: { public_key: 'new-key' },
          enabled: false,
          updatedAt: later,
        };
        expect(updated).toEqual(expected);
        expect(await store.getSource(source.id)).toEqual(expected);
      });

      it('updateSource with a partial patch keeps the fields it does not name', async () => {
        const source = sourceRecord({ enabled: false });
        await store.createSource(source);
        const later = new Date(T0 + MINUTE);
        const renamed = await store.updateSource(source.id, { name: 'Renamed' }, later);
        expect(renamed).toEqual({ ...source, name: 'Renamed', updatedAt: later });
        const enabled = await store.updateSource(source.id, { enabled: true }, new Date(T0 + 2 * MINUTE));
        expect(enabled).toEqual({
          ...source,
          name: 'Renamed',
          enabled: true,
          updatedAt: new Date(T0 + 2 * MINUTE),
        });
        expect(enabled?.createdAt).toEqual(source.createdAt);
      });

      it('updateSource on an unknown id returns null', async () => {
        expect(await store.updateSource(newId('source'), { name: 'nobody' }, new Date(T0))).toBeNull();
      });

      it('updateSourceState merges keys into the state and keeps the others', async () => {
        const source = sourceRecord();
        await store.createSource(source);
        await store.updateSourceState(
          source.id,
          { sns: { subscription: 'pending' }, other: 1 },
          new Date(T0 + 5),
        );
        await store.updateSourceState(
          source.id,
          { sns: { subscription: 'confirmed', topic_arn: 'arn:x' } },
          new Date(T0 + 6),
        );
        const state = (await store.getSource(source.id))?.state;
        expect(state).toEqual({ sns: { subscription: 'confirmed', topic_arn: 'arn:x' }, other: 1 });
      });

      it('deleteSource hides the source from getSource and listSources', async () => {
        const kept = sourceRecord();
        const deleted = sourceRecord();
        await store.createSource(kept);
        await store.createSource(deleted);
        expect(await store.deleteSource(deleted.id, new Date(T0 + MINUTE))).toBe(true);
        expect(await store.getSource(deleted.id)).toBeNull();
        expect(await store.listSources()).toEqual([kept]);
      });

      it('deleteSource on an unknown or already deleted id returns false', async () => {
        const source = sourceRecord();
        await store.createSource(source);
        expect(await store.deleteSource(newId('source'), new Date(T0))).toBe(false);
        expect(await store.deleteSource(source.id, new Date(T0))).toBe(true);
        expect(await store.deleteSource(source.id, new Date(T0))).toBe(false);
      });

      it('updateSource on a deleted source returns null and leaves it deleted', async () => {
        const source = sourceRecord();
        await store.createSource(source);
        await store.deleteSource(source.id, new Date(T0));
        expect(await store.updateSource(source.id, { enabled: true }, new Date(T0 + MINUTE))).toBeNull();
        expect(await store.getSource(source.id)).toBeNull();
      });

      it('deleting a source keeps its inbox rows and events', async () => {
        const source = sourceRecord();
        await store.createSource(source);
        const event = newEvent({ sourceId: source.id });
        await storeEvents(store, [event]);
        await store.deleteSource(source.id, new Date(T0));
        expect(await store.getEvent(event.event.id)).toEqual(event.event);
        expect((await store.listInbox({ sourceId: source.id, limit: 10 })).items).toHaveLength(1);
      });
    });

    describe('inbox', () => {
      it('appendInbox of several rows round-trips every field byte for byte', async () => {
        const sourceId = newId('source');
        const binary = Buffer.concat([
          Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xe2, 0x82]),
          Buffer.from(
            '--boundary\r\nContent-Disposition: form-data; name="event"\r\n\r\ndelivered\r\n',
            'latin1',
          ),
          Buffer.from([0xa0, 0xa1, 0x00, 0x00]),
          Buffer.from('\r\n'),
        ]);
        const rows = [
          inboxInsert(sourceId, {
            receivedAt: new Date('2026-11-26T12:00:00.123Z'),
            method: 'POST',
            path: `/ingest/${sourceId}`,
            query: 'token=abc%20def&retry=1',
            headers: {
              'content-type': 'multipart/form-data; boundary=--boundary',
              'x-mailgun-signature': 'f0e1d2c3',
              'x-custom': 'naïve value with "quotes" and \\ backslash',
            },
            body: binary,
          }),
          inboxInsert(sourceId, { receivedAt: new Date('2026-11-26T12:00:00.999Z') }),
          // The source's own ingest path is stored empty and put back; any other is kept as it is.
          inboxInsert(sourceId, { path: `/ingest/${sourceId}/` }),
          inboxInsert(sourceId, { path: `/ingest/${newId('source')}` }),
          inboxInsert(sourceId, { path: `/ingest/${sourceId.toUpperCase()}` }),
          inboxInsert(newId('source'), {
            provider: 'standard',
            receivedAt: new Date('2026-11-26T12:00:01.001Z'),
            headers: {},
            body: Buffer.from('{"type":"invoice.paid","data":{"amount":4200}}\r\n'),
          }),
        ];
        await store.appendInbox(rows);
        for (const row of rows) {
          const stored = await store.getInboxRow(row.id);
          expect(stored).not.toBeNull();
          expect(stored).toEqual({
            ...row,
            status: 'pending',
            attempts: 0,
            error: null,
            notes: [],
            eventCount: 0,
            duplicateCount: 0,
            processedAt: null,
          });
          expect(Buffer.isBuffer(stored?.body)).toBe(true);
          expect(stored?.body.equals(row.body)).toBe(true);
          expect(stored?.receivedAt.getTime()).toBe(row.receivedAt.getTime());
        }
      });

      it('appendInbox of no rows does nothing', async () => {
        await store.appendInbox([]);
        expect(await store.countInbox()).toEqual({ pending: 0, processed: 0, quarantined: 0 });
        expect((await store.listInbox({ limit: 10 })).items).toEqual([]);
      });

      it('appendInbox binds a one-time token to the first body: the same body again is stored, another is refused', async () => {
        const sourceId = newId('source');
        const receivedAt = new Date(T0);
        const token = (bodyHash: string, expiresAt = new Date(T0 + 9 * 60 * MINUTE)) => ({
          token: 'tok-1',
          bodyHash,
          expiresAt,
        });
        const first = inboxInsert(sourceId, { receivedAt, oneTimeToken: token('a') });
        // In one commit: the body the token is bound to, another body, then the first body again.
        const forged = inboxInsert(sourceId, { receivedAt, oneTimeToken: token('b') });
        const again = inboxInsert(sourceId, { receivedAt, oneTimeToken: token('a') });
        expect(await store.appendInbox([first, forged, again])).toMatchObject({ replayed: [forged.id] });
        // In a later commit, and for another source, which has tokens of its own.
        const later = inboxInsert(sourceId, { receivedAt, oneTimeToken: token('b') });
        const elsewhere = inboxInsert(newId('source'), { receivedAt, oneTimeToken: token('b') });
        expect(await store.appendInbox([later, elsewhere])).toMatchObject({ replayed: [later.id] });
        expect(await store.getInboxRow(forged.id)).toBeNull();
        expect(await store.getInboxRow(later.id)).toBeNull();
        for (const row of [first, again, elsewhere]) expect(await store.getInboxRow(row.id)).not.toBeNull();
      });

      it('appendInbox lets an expired token binding go: the token may then carry another body', async () => {
        const sourceId = newId('source');
        const bound = inboxInsert(sourceId, {
          receivedAt: new Date(T0),
          oneTimeToken: { token: 'tok-old', bodyHash: 'a', expiresAt: new Date(T0 + MINUTE) },
        });
        expect(await store.appendInbox([bound])).toMatchObject({ replayed: [] });
        const afterExpiry = inboxInsert(sourceId, {
          receivedAt: new Date(T0 + 2 * MINUTE),
          oneTimeToken: { token: 'tok-old', bodyHash: 'b', expiresAt: new Date(T0 + 10 * MINUTE) },
        });
        expect(await store.appendInbox([afterExpiry])).toMatchObject({ replayed: [] });
        const beforeNewExpiry = inboxInsert(sourceId, {
          receivedAt: new Date(T0 + 3 * MINUTE),
          oneTimeToken: { token: 'tok-old', bodyHash: 'a', expiresAt: new Date(T0 + 10 * MINUTE) },
        });
        expect(await store.appendInbox([beforeNewExpiry])).toMatchObject({ replayed: [beforeNewExpiry.id] });
      });

      it('getInboxRow returns null for an unknown id', async () => {
        expect(await store.getInboxRow(newId('inbox'))).toBeNull();
      });

      it('listInbox lists newest first and filters by status and by source', async () => {
        const a = newId('source');
        const b = newId('source');
        const rows = [inboxInsert(a), inboxInsert(b), inboxInsert(a), inboxInsert(b), inboxInsert(a)];
        await store.appendInbox(rows);
        const [r0, r1, r2, r3, r4] = rows.map((row) => row.id) as [string, string, string, string, string];
        await settle(store, new Set([r1, r2]));
        // r0..r4 are now processed, quarantined, quarantined, processed, processed; add two pending.
        const late = [inboxInsert(a), inboxInsert(b)];
        await store.appendInbox(late);
        const [p0, p1] = late.map((row) => row.id) as [string, string];

        expect(ids((await store.listInbox({ limit: 100 })).items)).toEqual([p1, p0, r4, r3, r2, r1, r0]);
        expect(ids((await store.listInbox({ limit: 100, status: 'pending' })).items)).toEqual([p1, p0]);
        expect(ids((await store.listInbox({ limit: 100, status: 'processed' })).items)).toEqual([r4, r3, r0]);
        expect(ids((await store.listInbox({ limit: 100, status: 'quarantined' })).items)).toEqual([r2, r1]);
        expect(ids((await store.listInbox({ limit: 100, sourceId: a })).items)).toEqual([p0, r4, r2, r0]);
        expect(ids((await store.listInbox({ limit: 100, sourceId: b, status: 'processed' })).items)).toEqual([
          r3,
        ]);
        expect((await store.listInbox({ limit: 100 })).next).toBeNull();
      });

      it('listInbox cursor pagination visits every row exactly once', async () => {
        const sourceId = newId('source');
        const rows = Array.from({ length: 7 }, () => inboxInsert(sourceId));
        await store.appendInbox(rows);
        const pages = await allInboxPages(store, {}, 2);
        expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
        expect(ids(pages.flat())).toEqual(ids(rows).reverse());
      });

      it('listInbox cursor pagination with a filter ends without an empty page', async () => {
        const a = newId('source');
        const b = newId('source');
        const rows = Array.from({ length: 9 }, (_, i) => inboxInsert(i % 3 === 0 ? b : a));
        await store.appendInbox(rows);
        const pages = await allInboxPages(store, { sourceId: a }, 3);
        expect(pages.map((page) => page.length)).toEqual([3, 3]);
        expect(ids(pages.flat())).toEqual(ids(rows.filter((row) => row.sourceId === a)).reverse());
      });

      it('countInbox counts rows per status', async () => {
        const sourceId = newId('source');
        const rows = Array.from({ length: 5 }, () => inboxInsert(sourceId));
        await store.appendInbox(rows);
        await settle(store, new Set([rows[0]!.id]));
        await store.appendInbox([inboxInsert(sourceId), inboxInsert(sourceId)]);
        expect(await store.countInbox()).toEqual({ pending: 2, processed: 4, quarantined: 1 });
      });
    });

    describe('processInbox', () => {
      it('claims pending rows oldest first up to the limit and hands them to the plan', async () => {
        const sourceId = newId('source');
        const rows = Array.from({ length: 5 }, () => inboxInsert(sourceId));
        // Appended out of order: the claim order must follow age, not insertion order.
        await store.appendInbox([rows[3]!, rows[0]!, rows[4]!, rows[1]!, rows[2]!]);
        const plan = vi.fn((claimed: InboxRow[]) => claimed.map((row) => processed(row)));
        const summary = await store.processInbox(3, plan);
        expect(plan).toHaveBeenCalledTimes(1);
        const claimed = plan.mock.calls[0]![0];
        expect(ids(claimed)).toEqual(ids(rows.slice(0, 3)));
        expect(claimed[0]).toMatchObject({ ...rows[0], status: 'pending', attempts: 0 });
        expect(claimed[0]?.body.equals(rows[0]!.body)).toBe(true);
        expect(summary).toEqual({
          rows: 3,
          processed: 3,
          quarantined: 0,
          inserted: 0,
          duplicates: 0,
          deliveries: 0,
          insertedByType: expect.any(Object),
        });
        expect(ids((await store.listInbox({ status: 'pending', limit: 10 })).items)).toEqual([
          rows[4]!.id,
          rows[3]!.id,
        ]);
      });

      it('marks processed rows with their counts, notes and time, and quarantined rows with the error', async () => {
        const sourceId = newId('source');
        const good = inboxInsert(sourceId);
        const bad = inboxInsert(sourceId);
        await store.appendInbox([good, bad]);
        const events = [
          newEvent({ sourceId, type: 'email.delivered' }),
          newEvent({ sourceId, type: 'email.opened', timestamp: isoAt(3) }),
        ];
        const notes: InboxNote[] = [{ index: 2, reason: 'unknown SendGrid event "group_resubscribe_v2"' }];
        const before = Date.now();
        const summary = await store.processInbox(10, (claimed) =>
          claimed.map((row) =>
            row.id === good.id ? processed(row, events, notes) : quarantined(row, 'body is not a JSON array'),
          ),
        );
        const after = Date.now();
        expect(summary).toEqual({
          rows: 2,
          processed: 1,
          quarantined: 1,
          inserted: 2,
          duplicates: 0,
          deliveries: 0,
          insertedByType: expect.any(Object),
        });

        const goodRow = await store.getInboxRow(good.id);
        expect(goodRow).toMatchObject({
          status: 'processed',
          attempts: 1,
          error: null,
          notes,
          eventCount: 2,
          duplicateCount: 0,
        });
        expect(goodRow?.processedAt).toBeInstanceOf(Date);
        // A wide window: a server-side clock (PostgreSQL now()) may differ slightly from ours.
        expect(goodRow?.processedAt?.getTime()).toBeGreaterThanOrEqual(before - 60_000);
        expect(goodRow?.processedAt?.getTime()).toBeLessThanOrEqual(after + 60_000);

        const badRow = await store.getInboxRow(bad.id);
        expect(badRow).toMatchObject({
          status: 'quarantined',
          attempts: 1,
          error: 'body is not a JSON array',
          eventCount: 0,
          duplicateCount: 0,
        });
        expect(badRow?.body.equals(bad.body)).toBe(true);

        for (const { event } of events) expect(await store.getEvent(event.id)).toEqual(event);
        expect(await store.countEvents()).toBe(2);
      });

      it('processes a batch binding more values than one PostgreSQL statement takes, and dedups across its parts', async () => {
        // 6,000 events of 14 columns bind 84,000 values; postgres.js refuses 65,534.
        const sourceId = newId('source');
        const events = Array.from({ length: 6000 }, (_, i) => newEvent({ sourceId }, `sg_bulk_${i}`));
        const first = await storeEvents(store, events);
        expect(first).toMatchObject({ rows: 1, processed: 1, inserted: 6000, duplicates: 0 });
        // The same keys again, plus one new one at the very end (in the last part).
        const again = [
          ...events.map((e) => newEvent({ sourceId }, e.dedupKey)),
          newEvent({ sourceId }, 'sg_bulk_new'),
        ];
        expect(await storeEvents(store, again)).toMatchObject({ inserted: 1, duplicates: 6000 });
        const rows = (await store.listInbox({ status: 'processed', limit: 10 })).items;
        expect(rows.map((r) => [r.eventCount, r.duplicateCount]).sort()).toEqual([
          [1, 6000],
          [6000, 0],
        ]);
      });

      it('marks every row of a large mixed batch with its own outcome', async () => {
        const sourceId = newId('source');
        const inserts = Array.from({ length: 600 }, () => inboxInsert(sourceId));
        await store.appendInbox(inserts);
        const position = new Map(inserts.map((row, i) => [row.id, i]));
        const summary = await store.processInbox(1000, (claimed) =>
          claimed.map((row) => {
            const i = position.get(row.id) ?? -1;
            if (i % 3 === 0) return quarantined(row, `row ${i}: unexpected "token" {, \\ NULL`);
            const notes: InboxNote[] = i % 3 === 1 ? [{ index: i, reason: `unknown event #${i}` }] : [];
            return processed(row, [newEvent({ sourceId }, `sg_mixed_${i}`)], notes);
          }),
        );
        expect(summary).toMatchObject({ rows: 600, processed: 400, quarantined: 200, inserted: 400 });
        for (const [i, insert] of inserts.entries()) {
          const row = await store.getInboxRow(insert.id);
          if (i % 3 === 0) {
            expect(row).toMatchObject({
              status: 'quarantined',
              attempts: 1,
              error: `row ${i}: unexpected "token" {, \\ NULL`,
            });
          } else {
            expect(row).toMatchObject({
              status: 'processed',
              attempts: 1,
              error: null,
              notes: i % 3 === 1 ? [{ index: i, reason: `unknown event #${i}` }] : [],
              eventCount: 1,
              duplicateCount: 0,
            });
          }
        }
      });

      it('stores the same dedup key of one source once within a batch and counts the duplicate', async () => {
        const sourceId = newId('source');
        const first = inboxInsert(sourceId);
        const second = inboxInsert(sourceId);
        await store.appendInbox([first, second]);
        const original = newEvent({ sourceId }, 'sg_evt_dup');
        const resent = newEvent({ sourceId }, 'sg_evt_dup');
        const repeatedInRow = newEvent({ sourceId }, 'sg_evt_dup');
        const summary = await store.processInbox(10, (claimed) =>
          claimed.map((row) =>
            row.id === first.id ? processed(row, [original]) : processed(row, [resent, repeatedInRow]),
          ),
        );
        expect(summary).toEqual({
          rows: 2,
          processed: 2,
          quarantined: 0,
          inserted: 1,
          duplicates: 2,
          deliveries: 0,
          insertedByType: expect.any(Object),
        });
        expect(await store.countEvents()).toBe(1);
        expect(await store.getEvent(original.event.id)).toEqual(original.event);
        expect(await store.getEvent(resent.event.id)).toBeNull();
        expect(await store.getInboxRow(first.id)).toMatchObject({ eventCount: 1, duplicateCount: 0 });
        expect(await store.getInboxRow(second.id)).toMatchObject({ eventCount: 0, duplicateCount: 2 });
      });

      it('stores the same dedup key of one source once across batches and counts the duplicate', async () => {
        const sourceId = newId('source');
        const first = await storeEvents(store, [newEvent({ sourceId }, 'sg_evt_again')]);
        expect(first).toMatchObject({ inserted: 1, duplicates: 0 });
        const second = await storeEvents(store, [newEvent({ sourceId }, 'sg_evt_again')]);
        expect(second).toMatchObject({ processed: 1, inserted: 0, duplicates: 1 });
        expect(await store.countEvents()).toBe(1);
      });

      it('stores the same dedup key under two different sources twice', async () => {
        const a = newEvent({ sourceId: newId('source') }, 'shared-webhook-id');
        const b = newEvent({ sourceId: newId('source') }, 'shared-webhook-id');
        const summary = await storeEvents(store, [a, b]);
        expect(summary).toMatchObject({ inserted: 2, duplicates: 0 });
        expect(await store.getEvent(a.event.id)).toEqual(a.event);
        expect(await store.getEvent(b.event.id)).toEqual(b.event);
      });

      it('a plan that throws rolls everything back and leaves the rows pending', async () => {
        const sourceId = newId('source');
        const rows = [inboxInsert(sourceId), inboxInsert(sourceId)];
        await store.appendInbox(rows);
        const event = newEvent({ sourceId });
        await expect(
          store.processInbox(10, () => {
            throw new Error('adapter exploded');
          }),
        ).rejects.toThrow('adapter exploded');
        expect(await store.countEvents()).toBe(0);
        expect(await store.countInbox()).toEqual({ pending: 2, processed: 0, quarantined: 0 });
        for (const row of rows)
          expect(await store.getInboxRow(row.id)).toMatchObject({ status: 'pending', attempts: 0 });
        // The rows are still claimable afterwards.
        const summary = await store.processInbox(10, (claimed) =>
          claimed.map((row) => processed(row, [event])),
        );
        expect(summary).toMatchObject({ rows: 2, processed: 2, inserted: 1, duplicates: 1 });
      });

      it('a batch that fails while writing keeps none of the events or row updates it already made', async () => {
        const sourceId = newId('source');
        const rows = [inboxInsert(sourceId), inboxInsert(sourceId)];
        await store.appendInbox(rows);
        const first = newEvent({ sourceId }, 'key-1');
        // Same event id under another dedup key: the second insert violates the event's identity.
        const clash = newEvent({ sourceId, id: first.event.id }, 'key-2');
        await expect(
          store.processInbox(10, (claimed) =>
            claimed.map((row) =>
              row.id === rows[0]!.id ? processed(row, [first]) : processed(row, [clash]),
            ),
          ),
        ).rejects.toThrow();
        expect(await store.countEvents()).toBe(0);
        expect(await store.getEvent(first.event.id)).toBeNull();
        expect(await store.countInbox()).toEqual({ pending: 2, processed: 0, quarantined: 0 });
      });

      it('with no pending rows returns zero rows without planning anything', async () => {
        const plan = vi.fn((claimed: InboxRow[]) => claimed.map((row) => processed(row)));
        const summary = await store.processInbox(10, plan);
        expect(summary).toEqual({
          rows: 0,
          processed: 0,
          quarantined: 0,
          inserted: 0,
          duplicates: 0,
          deliveries: 0,
          insertedByType: expect.any(Object),
        });
        for (const call of plan.mock.calls) expect(call[0]).toEqual([]);
      });

      it('skips rows that are already processed or quarantined', async () => {
        const sourceId = newId('source');
        const rows = [inboxInsert(sourceId), inboxInsert(sourceId)];
        await store.appendInbox(rows);
        await settle(store, new Set([rows[1]!.id]));
        const plan = vi.fn((claimed: InboxRow[]) => claimed.map((row) => processed(row)));
        expect((await store.processInbox(10, plan)).rows).toBe(0);
        for (const call of plan.mock.calls) expect(call[0]).toEqual([]);
      });
    });

    describe('requeueInbox', () => {
      /** Six rows over two sources, one minute apart: processed, quarantined, processed, quarantined, pending, pending. */
      async function scenario() {
        const a = newId('source');
        const b = newId('source');
        const rows = [a, a, b, b, a, b].map((sourceId, i) =>
          inboxInsert(sourceId, { receivedAt: new Date(T0 + i * MINUTE) }),
        );
        await store.appendInbox(rows.slice(0, 4));
        await settle(store, new Set([rows[1]!.id, rows[3]!.id]));
        await store.appendInbox(rows.slice(4));
        return { a, b, ids: ids(rows) };
      }

      async function pendingIds(): Promise<string[]> {
        return ids((await store.listInbox({ status: 'pending', limit: 100 })).items).sort();
      }

      it('requeues by status and clears the error', async () => {
        const { ids: r } = await scenario();
        expect(await store.requeueInbox({ status: 'quarantined' })).toBe(2);
        expect(await pendingIds()).toEqual([r[1], r[3], r[4], r[5]].sort());
        expect(await store.getInboxRow(r[1]!)).toMatchObject({ status: 'pending', error: null, attempts: 1 });
        expect(await store.requeueInbox({ status: 'processed' })).toBe(2);
        expect(await store.countInbox()).toEqual({ pending: 6, processed: 0, quarantined: 0 });
      });

      it('requeues by ids', async () => {
        const { ids: r } = await scenario();
        expect(await store.requeueInbox({ ids: [r[0]!, r[3]!] })).toBe(2);
        expect(await pendingIds()).toEqual([r[0], r[3], r[4], r[5]].sort());
        expect(await store.requeueInbox({ ids: [] })).toBe(0);
        expect(await store.requeueInbox({ ids: [newId('inbox')] })).toBe(0);
      });

      it('requeues by source', async () => {
        const { b, ids: r } = await scenario();
        expect(await store.requeueInbox({ sourceId: b })).toBe(2);
        expect(await pendingIds()).toEqual([r[2], r[3], r[4], r[5]].sort());
      });

      it('requeues by received time with since inclusive and until exclusive', async () => {
        const { ids: r } = await scenario();
        expect(
          await store.requeueInbox({ since: new Date(T0 + MINUTE), until: new Date(T0 + 3 * MINUTE) }),
        ).toBe(2);
        expect(await pendingIds()).toEqual([r[1], r[2], r[4], r[5]].sort());
        expect(await store.requeueInbox({ since: new Date(T0 + 3 * MINUTE) })).toBe(1);
        expect(await store.requeueInbox({ until: new Date(T0 + MINUTE) })).toBe(1);
        expect(await store.countInbox()).toEqual({ pending: 6, processed: 0, quarantined: 0 });
      });

      it('combines selectors', async () => {
        const { a, ids: r } = await scenario();
        expect(await store.requeueInbox({ sourceId: a, status: 'processed' })).toBe(1);
        expect(await pendingIds()).toEqual([r[0], r[4], r[5]].sort());
      });

      it('never touches pending rows', async () => {
        const { ids: r } = await scenario();
        expect(await store.requeueInbox({ ids: [r[4]!, r[5]!] })).toBe(0);
        expect(await store.requeueInbox({})).toBe(4);
        expect(await store.requeueInbox({})).toBe(0);
        expect(await store.getInboxRow(r[4]!)).toMatchObject({ status: 'pending', attempts: 0 });
      });

      it('reprocessing a processed row inserts no new event, counts duplicates and adds an attempt', async () => {
        const sourceId = newId('source');
        const row = inboxInsert(sourceId);
        await store.appendInbox([row]);
        // Like the pipeline, each run mints fresh event ids; the dedup keys stay the same.
        const plan = (claimed: InboxRow[]) =>
          claimed.map((r) =>
            processed(r, [
              newEvent({ sourceId }, 'sg_evt_1'),
              newEvent({ sourceId, type: 'email.opened' }, 'sg_evt_2'),
            ]),
          );
        expect(await store.processInbox(10, plan)).toMatchObject({ inserted: 2, duplicates: 0 });
        const stored = ids((await store.listEvents({ limit: 10 })).items);

        expect(await store.requeueInbox({ ids: [row.id] })).toBe(1);
        expect(await store.processInbox(10, plan)).toEqual({
          rows: 1,
          processed: 1,
          quarantined: 0,
          inserted: 0,
          duplicates: 2,
          deliveries: 0,
          insertedByType: expect.any(Object),
        });
        expect(await store.countEvents()).toBe(2);
        expect(ids((await store.listEvents({ limit: 10 })).items)).toEqual(stored);
        expect(await store.getInboxRow(row.id)).toMatchObject({
          status: 'processed',
          attempts: 2,
          duplicateCount: 2,
          error: null,
        });
      });

      it('reprocessing a quarantined row after a fix processes it and clears the error', async () => {
        const sourceId = newId('source');
        const row = inboxInsert(sourceId);
        await store.appendInbox([row]);
        await store.processInbox(10, (claimed) => claimed.map((r) => quarantined(r, 'parser failed: boom')));
        expect(await store.requeueInbox({ status: 'quarantined' })).toBe(1);
        const event = newEvent({ sourceId });
        expect(
          await store.processInbox(10, (claimed) => claimed.map((r) => processed(r, [event]))),
        ).toMatchObject({
          processed: 1,
          inserted: 1,
        });
        expect(await store.getInboxRow(row.id)).toMatchObject({
          status: 'processed',
          attempts: 2,
          error: null,
          eventCount: 1,
        });
      });
    });

    describe('events', () => {
      const S1 = 'src_01JDSOURCEONE00000000000A';
      const S2 = 'src_01JDSOURCETWO00000000000B';

      /**
       * Seven events over two sources. Newest first they are e7 | e5 e4 | e6 e3 e2 | e1 (bars group
       * equal timestamps), so with limit 2 every page boundary but the last splits a group of equal
       * timestamps: a cursor that compares only the time skips events. Ids are minted in this order
       * but stored in another, so insertion order cannot pass for the listing order.
       */
      function fixture(): CanonicalEvent[] {
        const row = (
          type: string,
          sourceId: string,
          recipient: string,
          messageId: string | null,
          minutes: number,
        ): EventSpec => ({ type, sourceId, recipient, messageId, timestamp: isoAt(minutes) });
        const specs: EventSpec[] = [
          row('email.delivered', S1, 'ada@example.com', 'msg-1', 0),
          row('email.opened', S1, 'ada@example.com', 'msg-1', 10),
          row('email.clicked', S1, 'ada@example.com', 'msg-1', 10),
          row('email.bounced', S2, 'bob@example.org', 'msg-2', 20),
          row('email.delivered', S2, 'carol@example.net', 'msg-3', 20),
          row('email.delivered', S1, 'bob@example.org', 'msg-4', 10),
          row('email.complained', S2, 'ada@example.com', null, 30),
        ];
        return specs.map((spec) => canonicalEvent(spec));
      }

      async function seed(): Promise<CanonicalEvent[]> {
        const events = fixture();
        const order = [4, 1, 6, 3, 0, 5, 2];
        await storeEvents(
          store,
          order.map((i) => ({ dedupKey: `dedup-${i}`, event: events[i]! })),
        );
        return events;
      }

      it('getEvent round-trips a canonical event exactly', async () => {
        const event = canonicalEvent({ type: 'email.bounced', recipient: 'Ünïcode.User+tag@example.com' });
        await storeEvents(store, [{ dedupKey: 'sg_evt_roundtrip', event }]);
        const stored = await store.getEvent(event.id);
        expect(stored).toStrictEqual(event);
      });

      it('getEvent and a listing give back a lone surrogate in a column field as it was stored', async () => {
        // A TEXT column turns a lone UTF-16 surrogate into U+FFFD; the stored JSON keeps the escape.
        const event = canonicalEvent({ recipient: 'a\ud800b@example.com', messageId: 'm\udfffx' });
        await storeEvents(store, [{ dedupKey: 'sg_evt_surrogate', event }]);
        expect(await store.getEvent(event.id)).toStrictEqual(event);
        const listed = await store.listEvents({ limit: 10 });
        expect(listed.items.find((e) => e.id === event.id)).toStrictEqual(event);
      });

      it('getEvent returns null for an unknown id', async () => {
        expect(await store.getEvent(newId('event'))).toBeNull();
      });

      it('listEvents orders by timestamp descending, then id descending', async () => {
        const events = await seed();
        const page = await store.listEvents({ limit: 100 });
        expect(page.items).toStrictEqual([...events].sort(newestFirst));
        expect(page.next).toBeNull();
      });

      const cases: { name: string; query: () => Omit<EventQuery, 'limit'>; expected: number }[] = [
        { name: 'type alone', query: () => ({ type: 'email.delivered' }), expected: 3 },
        { name: 'recipient alone', query: () => ({ recipient: 'ada@example.com' }), expected: 4 },
        { name: 'message id alone', query: () => ({ messageId: 'msg-1' }), expected: 3 },
        { name: 'source alone', query: () => ({ sourceId: S2 }), expected: 3 },
        { name: 'since alone, inclusive', query: () => ({ since: new Date(isoAt(10)) }), expected: 6 },
        { name: 'until alone, exclusive', query: () => ({ until: new Date(isoAt(10)) }), expected: 1 },
        {
          name: 'since and until together',
          query: () => ({ since: new Date(isoAt(10)), until: new Date(isoAt(20)) }),
          expected: 3,
        },
        {
          name: 'type, source and recipient together',
          query: () => ({ type: 'email.delivered', sourceId: S1, recipient: 'bob@example.org' }),
          expected: 1,
        },
        {
          name: 'message id, source and a time window together',
          query: () => ({
            messageId: 'msg-1',
            sourceId: S1,
            since: new Date(isoAt(10)),
            until: new Date(isoAt(20)),
          }),
          expected: 2,
        },
        {
          name: 'recipient and type with no match',
          query: () => ({ recipient: 'carol@example.net', type: 'email.bounced' }),
          expected: 0,
        },
      ];

      for (const { name, query, expected } of cases) {
        it(`listEvents filters by ${name}`, async () => {
          const events = await seed();
          const want = events.filter((event) => matches(event, query())).sort(newestFirst);
          expect(want).toHaveLength(expected);
          const page = await store.listEvents({ ...query(), limit: 100 });
          expect(ids(page.items)).toEqual(ids(want));
          expect(page.next).toBeNull();
        });
      }

      it('listEvents cursor pagination with limit 2 visits each of 7 events exactly once', async () => {
        const events = await seed();
        const pages = await allEventPages(store, {}, 2);
        expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
        const seen = ids(pages.flat());
        expect(new Set(seen).size).toBe(7);
        expect(seen).toEqual(ids([...events].sort(newestFirst)));
      });

      it('listEvents cursor pagination keeps the filter on every page', async () => {
        const events = await seed();
        const pages = await allEventPages(store, { sourceId: S1 }, 2);
        expect(pages.map((page) => page.length)).toEqual([2, 2]);
        expect(ids(pages.flat())).toEqual(
          ids(events.filter((e) => e.data.source_id === S1).sort(newestFirst)),
        );
      });

      it('countEvents counts every stored event', async () => {
        await seed();
        expect(await store.countEvents()).toBe(7);
      });
    });

    describe('stored order (eventsAfter)', () => {
      const START: EventPosition = { tx: 0n, seq: 0n };

      /**
       * Waits until `event` has a place in stored order, and with it every event stored before it.
       * Immediate on SQLite; on PostgreSQL, once every transaction that began before it has ended (a
       * test elsewhere on the server may be holding one).
       */
      async function released(event: CanonicalEvent): Promise<void> {
        await vi.waitFor(async () => expect(await store.eventPosition(event.id)).not.toBeNull(), {
          timeout: 20_000,
          interval: 20,
        });
      }

      /** Stores each event in a batch of its own, in the order given, and waits until they are released. */
      async function storeInOrder(events: CanonicalEvent[]): Promise<void> {
        for (const event of events) await storeEvents(store, [{ dedupKey: `k-${event.id}`, event }]);
        const last = events.at(-1);
        if (last) await released(last);
      }

      /** Follows `next` from `from` until caught up; every event returned, in the order returned. */
      async function follow(from: EventPosition, limit: number, filter: EventFilter = {}) {
        const seen: CanonicalEvent[] = [];
        let position = from;
        for (let guard = 0; guard < 1000; guard++) {
          const feed = await store.eventsAfter(position, limit, filter);
          if (!feed) throw new Error('eventsAfter refused a position it gave out');
          seen.push(...feed.items.map((item) => item.event));
          position = feed.next;
          if (!feed.more) return { seen, next: position };
        }
        throw new Error('eventsAfter did not catch up');
      }

      const at = (minutes: number, type = 'email.delivered') =>
        canonicalEvent({ type, timestamp: isoAt(minutes), sourceId: 'src_01JDSTOREDORDER0000000000A' });

      it('returns events in the order they were stored, not by timestamp', async () => {
        const events = [at(30), at(-60 * 24), at(10), at(-60 * 24 * 365), at(20)];
        await storeInOrder(events);
        const { seen } = await follow(START, 100);
        expect(ids(seen)).toEqual(ids(events));
        // A page holds the events in stored order too, and each with its own position.
        const feed = await store.eventsAfter(START, 100);
        expect(feed?.items.map((item) => item.event)).toStrictEqual(events);
        const second = feed?.items[1]?.position as EventPosition;
        expect(ids((await follow(second, 100)).seen)).toEqual(ids(events.slice(2)));
      });

      it('yields back-dated events stored after a follower caught up, once each', async () => {
        await storeInOrder([at(0), at(10), at(20)]);
        const caughtUp = await follow(START, 100);
        const latest = await store.latestEventPosition();
        expect((await store.eventsAfter(latest, 100))?.items).toEqual([]);
        // Reported late: earlier than everything already seen, the last one a year earlier.
        const late = [at(5), at(-60), at(30), at(-60 * 24 * 365)];
        await storeInOrder(late);
        expect(ids((await follow(caughtUp.next, 100)).seen)).toEqual(ids(late));
        expect(ids((await follow(latest, 100)).seen)).toEqual(ids(late));
      });

      it('keeps the order of the events of one batch', async () => {
        const batch = [at(20), at(0), at(10), at(-5)];
        await storeEvents(
          store,
          batch.map((event, i) => ({ dedupKey: `batch-${i}`, event })),
        );
        await released(batch.at(-1) as CanonicalEvent);
        expect(ids((await follow(START, 100)).seen)).toEqual(ids(batch));
      });

      it('paging with limit 2 while events keep being stored visits every event once, in stored order', async () => {
        const stored = [at(0), at(1), at(2)];
        await storeInOrder(stored);
        const seen: CanonicalEvent[] = [];
        let position = START;
        for (let round = 0; round < 40; round++) {
          const feed = await store.eventsAfter(position, 2);
          expect(feed).not.toBeNull();
          seen.push(...(feed?.items ?? []).map((item) => item.event));
          position = feed?.next ?? position;
          // Each one stamped earlier than the last, as a provider reporting late would.
          if (round < 9) {
            const late = at(-10 * (round + 1));
            stored.push(late);
            await storeEvents(store, [{ dedupKey: `late-${round}`, event: late }]);
          } else if (round === 9) await released(stored.at(-1) as CanonicalEvent);
          else if (!feed?.more) break;
        }
        expect(ids(seen)).toEqual(ids(stored));
      });

      it('with a filter, returns the matching events and moves on past the others', async () => {
        const events = [
          at(0, 'email.bounced'),
          at(1),
          at(-30, 'email.bounced'),
          at(2, 'email.opened'),
          at(-90, 'email.bounced'),
        ];
        await storeInOrder(events);
        const bounced = events.filter((e) => e.type === 'email.bounced');
        const first = await follow(START, 2, { type: 'email.bounced' });
        expect(ids(first.seen)).toEqual(ids(bounced));
        await storeInOrder([at(3), at(4, 'email.opened')]);
        const quiet = await store.eventsAfter(first.next, 2, { type: 'email.bounced' });
        expect(quiet?.items).toEqual([]);
        expect(quiet?.more).toBe(false);
        const next = at(-1, 'email.bounced');
        await storeInOrder([next]);
        expect(ids((await follow(quiet?.next ?? START, 2, { type: 'email.bounced' })).seen)).toEqual([
          next.id,
        ]);
      });

      it('with a source and a type, returns exactly the events of both, whole', async () => {
        const other = (minutes: number, type = 'email.delivered') =>
          canonicalEvent({ type, timestamp: isoAt(minutes), sourceId: 'src_01JDSTOREDORDER0000000000B' });
        const events = [
          at(0, 'email.bounced'),
          other(1, 'email.bounced'),
          at(2),
          other(3),
          at(4, 'email.bounced'),
        ];
        await storeInOrder(events);
        const sourceA = 'src_01JDSTOREDORDER0000000000A';
        const both = await follow(START, 2, { sourceId: sourceA, type: 'email.bounced' });
        expect(both.seen).toEqual(
          events.filter((e) => e.data.source_id === sourceA && e.type === 'email.bounced'),
        );
        const otherSource = await follow(START, 2, { sourceId: 'src_01JDSTOREDORDER0000000000B' });
        expect(otherSource.seen).toEqual(events.filter((e) => e.data.source_id !== sourceA));
        expect((await follow(START, 2, { sourceId: 'src_never_stored' })).seen).toEqual([]);
      });

      it('examines a bounded number of rows per call, so a rare filter continues where the scan stopped', async () => {
        // Rare events spread over 2,100 others, across the places where positions gain a digit.
        const rareAt = new Set([8, 98, 998, 1500, 2099]);
        const events = Array.from({ length: 2100 }, (_, i) =>
          rareAt.has(i) ? at(-i, 'email.complained') : at(i % 50),
        );
        await storeEvents(
          store,
          events.map((event, i) => ({ dedupKey: `bulk-${i}`, event })),
        );
        await released(events.at(-1) as CanonicalEvent);
        const rare = events.filter((e) => e.type === 'email.complained');
        const feed = await store.eventsAfter(START, 10, { type: 'email.complained' });
        expect(feed?.items.length).toBeLessThan(rare.length);
        expect(feed?.more).toBe(true);
        const { seen } = await follow(START, 2, { type: 'email.complained' });
        expect(ids(seen)).toEqual(ids(rare));
        // Unfiltered, in pages that end across those places too: every event once, in order.
        expect(ids((await follow(START, 97)).seen)).toEqual(ids(events));
      });

      it('eventPosition gives the position an event was stored at', async () => {
        const events = [at(10), at(0), at(5)];
        await storeInOrder(events);
        const position = await store.eventPosition(events[0]?.id as string);
        expect(position).not.toBeNull();
        expect(ids((await follow(position as EventPosition, 100)).seen)).toEqual(ids(events.slice(1)));
        expect(await store.eventPosition(newId('event'))).toBeNull();
      });

      it('refuses a position beyond every one it gave out, and takes its own latest one', async () => {
        await storeInOrder([at(0)]);
        const latest = await store.latestEventPosition();
        expect(await store.eventsAfter(latest, 10)).not.toBeNull();
        expect(await store.eventsAfter({ tx: latest.tx + 1000n, seq: 0n }, 10)).toBeNull();
        // Past the latest position's sequence within its own transaction: refused while that is still
        // the latest position. On PostgreSQL other sessions on the server move the horizon on, after
        // which the store cannot tell such a position from one it gave out, so the check is made in a
        // moment when the latest position stayed the same around it (one of several tries).
        let checked = false;
        for (let attempt = 0; attempt < 20 && !checked; attempt++) {
          const before = await store.latestEventPosition();
          const beyond = await store.eventsAfter({ tx: before.tx, seq: before.seq + 1000n }, 10);
          const after = await store.latestEventPosition();
          if (after.tx !== before.tx || after.seq !== before.seq) continue;
          expect(beyond).toBeNull();
          checked = true;
        }
        expect(checked, 'a moment when the latest position stood still').toBe(true);
      });
    });

    describe('api keys', () => {
      it('addFirstApiKey adds a key only while no live key exists, once among concurrent callers', async () => {
        const make = (n: number) => ({
          id: newId('apiKey'),
          name: `first ${n}`,
          hash: `hash-${n}`,
          createdAt: new Date(T0),
        });
        const results = await Promise.all([1, 2, 3].map((n) => store.addFirstApiKey(make(n))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.countApiKeys()).toBe(1);
        expect(await store.addFirstApiKey(make(4))).toBe(false);
      });

      const hash = 'a3f1c2d4e5b6978812ab34cd56ef7890a3f1c2d4e5b6978812ab34cd56ef7890';

      it('addApiKey then findApiKeyByHash returns the key', async () => {
        const key = { id: newId('apiKey'), name: 'MAILHOOK_API_KEY', hash, createdAt: new Date(T0 + 321) };
        await store.addApiKey(key);
        expect(await store.findApiKeyByHash(hash)).toEqual(key);
        expect(await store.countApiKeys()).toBe(1);
      });

      it('findApiKeyByHash returns null for an unknown hash', async () => {
        await store.addApiKey({ id: newId('apiKey'), name: 'ci', hash, createdAt: new Date(T0) });
        expect(await store.findApiKeyByHash(hash.replace(/^a/, 'b'))).toBeNull();
      });

      it('adding the same hash twice is harmless and keeps the first key', async () => {
        const key = { id: newId('apiKey'), name: 'MAILHOOK_API_KEY', hash, createdAt: new Date(T0) };
        await store.addApiKey(key);
        await store.addApiKey(key);
        // What every restart with the same MAILHOOK_API_KEY does: a fresh id, the same hash.
        await store.addApiKey({ ...key, id: newId('apiKey'), createdAt: new Date(T0 + MINUTE) });
        expect(await store.countApiKeys()).toBe(1);
        expect(await store.findApiKeyByHash(hash)).toEqual(key);
      });

      it('countApiKeys counts distinct keys', async () => {
        await store.addApiKey({ id: newId('apiKey'), name: 'admin', hash, createdAt: new Date(T0) });
        await store.addApiKey({
          id: newId('apiKey'),
          name: 'ci',
          hash: hash.replace(/0$/, '1'),
          createdAt: new Date(T0),
        });
        expect(await store.countApiKeys()).toBe(2);
      });
    });

    describe('concurrency', () => {
      async function appendMany(count: number): Promise<{ sourceId: string; rows: InboxInsert[] }> {
        const sourceId = newId('source');
        const rows = Array.from({ length: count }, () => inboxInsert(sourceId));
        await store.appendInbox(rows);
        return { sourceId, rows };
      }

      it('two processInbox calls started together never process one row twice', async () => {
        const { sourceId, rows } = await appendMany(40);
        const planned: string[] = [];
        const plan = (claimed: InboxRow[]) => {
          planned.push(...ids(claimed));
          return claimed.map((row) => processed(row, [newEvent({ sourceId }, `evt-of-${row.id}`)]));
        };
        const [first, second] = await Promise.all([
          store.processInbox(25, plan),
          store.processInbox(25, plan),
        ]);
        expect(first.processed + second.processed).toBe(rows.length);
        expect(first.inserted + second.inserted).toBe(rows.length);
        expect(first.duplicates + second.duplicates).toBe(0);
        expect([...planned].sort()).toEqual(ids(rows).sort());
        expect(await store.countInbox()).toEqual({ pending: 0, processed: 40, quarantined: 0 });
        expect(await store.countEvents()).toBe(40);
      });

      it('two workers draining the inbox together process every row exactly once', async () => {
        const { sourceId, rows } = await appendMany(60);
        const planned: string[] = [];
        const drain = async (): Promise<number> => {
          let total = 0;
          for (let guard = 0; guard < 100; guard++) {
            const summary = await store.processInbox(4, (claimed) => {
              planned.push(...ids(claimed));
              return claimed.map((row) => processed(row, [newEvent({ sourceId }, `evt-of-${row.id}`)]));
            });
            if (summary.rows === 0) return total;
            total += summary.processed;
          }
          throw new Error('drain did not finish');
        };
        const [a, b] = await Promise.all([drain(), drain()]);
        expect(a + b).toBe(rows.length);
        expect(planned).toHaveLength(rows.length);
        expect([...planned].sort()).toEqual(ids(rows).sort());
        expect(await store.countEvents()).toBe(rows.length);
        const page = await store.listInbox({ limit: 100 });
        expect(page.items.every((row) => row.status === 'processed' && row.attempts === 1)).toBe(true);
      });
    });
  });
}
