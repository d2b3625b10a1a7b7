import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import { SqliteStore } from '../../src/store/index.js';
import type { InboxInsert, InboxRow, NewEvent, RowOutcome, Store } from '../../src/store/store.js';
import { idBytes, idText } from '../../src/store/stored-id.js';
import {
  dropSchema,
  postgresAvailable,
  postgresStore,
  TEST_DATABASE_URL,
  testSchema,
} from '../helpers/postgres.js';

/**
 * A request whose one event holds it byte for byte (src/store/inbox-raw.ts) is stored once: its inbox
 * row keeps an empty body and names the event, and every read of the row (one row, a listing, the
 * pipeline's claim after a requeue) gives the exact bytes back. Retention that takes the event first
 * gives the row its body back. Bodies the event does not reproduce exactly keep their own bytes.
 */

const SOURCE = 'src_01JD0000000000000000000000';
const T0 = Date.parse('2026-12-06T12:00:00.000Z');

interface Columns {
  /** The stored body column's length and the raw_event column of an inbox row. */
  inbox(id: string): Promise<{ length: number; rawEvent: string | null }>;
}

interface Setup {
  store: Store;
  columns: Columns;
  cleanup(): Promise<void>;
}

let seq = 0;

function postmarkRecord(n: number): Record<string, unknown> {
  return {
    RecordType: 'Delivery',
    MessageID: `883953f4-6105-42a2-a16a-${String(n).padStart(12, '0')}`,
    MessageStream: 'outbound',
    Tag: 'welcome',
    Recipient: `zoë.${n}@example.com`,
    DeliveredAt: '2026-12-06T11:59:59.000Z',
    Details: 'smtp;250 2.0.0 OK',
    ServerID: 23,
    Metadata: { plan: 'pro', seats: 5, ratio: 0.25, none: null, list: [1, 'two', false] },
  };
}

function row(body: string): InboxInsert {
  seq++;
  return {
    id: newId('inbox'),
    sourceId: SOURCE,
    provider: 'postmark',
    receivedAt: new Date(T0 + seq),
    method: 'POST',
    path: `/ingest/${SOURCE}`,
    query: '',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(body),
  };
}

function eventOf(raw: unknown, key: string): NewEvent {
  const record = raw as { MessageID?: string; Recipient?: string };
  const event: CanonicalEvent = {
    id: newId('event'),
    type: 'email.delivered',
    timestamp: '2026-12-06T11:59:59.000Z',
    data: {
      provider: 'postmark',
      source_id: SOURCE,
      provider_event_id: null,
      message_id: record.MessageID ?? null,
      recipient: record.Recipient ?? null,
      user_agent: null,
      ip: null,
      tags: ['welcome'],
      metadata: {},
      received_at: new Date(T0).toISOString(),
      received_via: 'webhook',
      raw,
    },
  };
  return { dedupKey: key, event };
}

/** The adapter's part: one event per record, keyed by the message id (as the test decides). */
function plan(rows: InboxRow[]): RowOutcome[] {
  return rows.map((r) => {
    const parsed = JSON.parse(r.body.toString()) as unknown;
    const records = Array.isArray(parsed) ? parsed : [parsed];
    return {
      inboxId: r.id,
      kind: 'processed',
      events: records.map((raw) => eventOf(raw, `Delivery:${(raw as { MessageID: string }).MessageID}`)),
      notes: [],
    };
  });
}

async function processAll(store: Store): Promise<void> {
  await store.processInbox(100, plan);
}

function runRawOnce(name: string, make: () => Promise<Setup>): void {
  describe(`${name}: a raw request stored once`, () => {
    let setup: Setup;
    beforeEach(async () => {
      setup = await make();
    });
    afterEach(async () => {
      await setup.cleanup();
    });

    for (const path of ['pipeline', 'inline'] as const) {
      it(`keeps the body of a compact single-event request in its event only, and reads it back exactly (${path})`, async () => {
        const { store, columns } = setup;
        const compact = row(JSON.stringify(postmarkRecord(seq)));
        const pretty = row(JSON.stringify(postmarkRecord(seq + 1000), null, 2));
        const escaped = row(JSON.stringify(postmarkRecord(seq + 2000)).replace('zoë', 'zo\\u00eb'));
        const batch = row(JSON.stringify([postmarkRecord(seq + 3000), postmarkRecord(seq + 4000)]));
        const rows = [compact, pretty, escaped, batch];
        if (path === 'pipeline') {
          await store.appendInbox(rows);
          await processAll(store);
        } else {
          const result = await store.appendInbox(rows, { plan, effects: {}, now: new Date(T0) });
          expect(result.processed?.rows).toBe(rows.length);
        }
        expect(await columns.inbox(compact.id)).toMatchObject({
          length: 0,
          rawEvent: expect.stringMatching(/^evt_/),
        });
        for (const kept of [pretty, escaped, batch])
          expect(await columns.inbox(kept.id)).toEqual({ length: kept.body.length, rawEvent: null });

        for (const r of rows) {
          const read = await store.getInboxRow(r.id);
          expect(read?.status).toBe('processed');
          expect(read?.body.equals(r.body), r.body.toString()).toBe(true);
        }
        const listed = await store.listInbox({ limit: 10 });
        expect(listed.items.map((r) => r.id)).toEqual(rows.map((r) => r.id).reverse());
        for (const r of listed.items)
          expect(r.body.equals(rows.find((x) => x.id === r.id)?.body ?? Buffer.alloc(0))).toBe(true);
      });
    }

    it('a duplicate keeps its own body, and a requeued row is claimed with its exact body and keeps its holder', async () => {
      const { store, columns } = setup;
      const record = postmarkRecord(seq);
      const first = row(JSON.stringify(record));
      const again = row(JSON.stringify(record));
      await store.appendInbox([first]);
      await processAll(store);
      await store.appendInbox([again]);
      await processAll(store);
      const holder = (await columns.inbox(first.id)).rawEvent;
      expect(holder).toMatch(/^evt_/);
      expect(await columns.inbox(again.id)).toEqual({ length: again.body.length, rawEvent: null });
      expect((await store.getInboxRow(again.id))?.duplicateCount).toBe(1);

      expect(await store.requeueInbox({ ids: [first.id] })).toBe(1);
      const claimed: Buffer[] = [];
      await store.processInbox(100, (rows) => {
        claimed.push(...rows.map((r) => r.body));
        return plan(rows);
      });
      expect(claimed).toHaveLength(1);
      expect(claimed[0]?.equals(first.body)).toBe(true);
      const reread = await store.getInboxRow(first.id);
      expect(reread).toMatchObject({ status: 'processed', attempts: 2, duplicateCount: 1, eventCount: 0 });
      expect(reread?.body.equals(first.body)).toBe(true);
      expect(await columns.inbox(first.id)).toEqual({ length: 0, rawEvent: holder });
    });

    it('retention that takes the event first gives the row its body back', async () => {
      const { store, columns } = setup;
      const compact = row(JSON.stringify(postmarkRecord(seq)));
      // A newer event too: SQLite keeps its newest event whatever its age (the live feed's position).
      const newer = row(JSON.stringify(postmarkRecord(seq + 1000)));
      await store.appendInbox([compact, newer]);
      await processAll(store);
      const holder = (await columns.inbox(compact.id)).rawEvent;
      expect(holder).toMatch(/^evt_/);
      // Events past their retention, the inbox kept forever.
      const cutoffs = { events: new Date(T0 + 86_400_000), inbox: null, attempts: null };
      let pruned = 0;
      for (let i = 0; i < 3; i++) pruned += await store.pruneBatch('events', cutoffs, 100);
      expect(pruned).toBeGreaterThanOrEqual(1);
      expect(await store.getEvent(holder as string)).toBeNull();
      expect(await columns.inbox(compact.id)).toEqual({ length: compact.body.length, rawEvent: null });
      expect((await store.getInboxRow(compact.id))?.body.equals(compact.body)).toBe(true);
    });
  });
}

runRawOnce('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailhook-raw-once-'));
  const filename = join(dir, 'mailhook.db');
  const store = new SqliteStore({ filename });
  await store.migrate();
  const db = new Database(filename, { readonly: true });
  return {
    store,
    columns: {
      async inbox(id) {
        // SQLite keeps both ids as bytes (stored-id.ts).
        const r = db
          .prepare<[Buffer | string], { length: number; raw_event: Buffer | string | null }>(
            'SELECT length(body) AS length, raw_event FROM inbox WHERE id = ?',
          )
          .get(idBytes(id, 'in'));
        return { length: r?.length ?? -1, rawEvent: idText(r?.raw_event ?? null, 'evt') };
      },
    },
    async cleanup() {
      db.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

if (await postgresAvailable()) {
  runRawOnce('PostgresStore', async () => {
    const schema = testSchema();
    const store = postgresStore(schema);
    await store.migrate();
    const sql = postgres(TEST_DATABASE_URL, {
      max: 1,
      onnotice: () => {},
      connection: { search_path: schema },
    });
    return {
      store,
      columns: {
        async inbox(id) {
          const [r] = await sql<{ length: number; raw_event: string | null }[]>`
            SELECT length(body) AS length, raw_event FROM inbox WHERE id = ${id}`;
          return { length: r?.length ?? -1, rawEvent: r?.raw_event ?? null };
        },
      },
      async cleanup() {
        await sql.end({ timeout: 5 });
        await store.close();
        await dropSchema(schema);
      },
    };
  });
} else {
  describe('PostgresStore: a raw request stored once', () => {
    it.skip('needs PostgreSQL at MAILHOOK_TEST_DATABASE_URL (never skipped in CI)', () => {});
  });
}
