import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { encodeTime, newId } from '../../src/ids.js';
import { storedDedupKey } from '../../src/store/dedup-key.js';
import { eventBody, storedBody } from '../../src/store/event-body.js';
import { SqliteStore } from '../../src/store/index.js';
import { loadMigrations } from '../../src/store/migrations.js';

/**
 * Migration 016 (SQLite): event and inbox ids become their ULID's 16 bytes in the events and inbox
 * tables (src/store/stored-id.ts). A database written at 015 reads back every event and request by
 * its id, in the same stored order, with the links between them (a request whose body its event
 * holds); an id that is not a canonical one stays a string and is still found.
 */

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const SOURCE = 'src_01M9724FB70KZWMVFTYCBEHRQE';

function event(n: number, id = newId('event')): CanonicalEvent {
  return {
    id,
    type: 'email.delivered',
    timestamp: new Date(T0 + n * 1000).toISOString(),
    data: {
      provider: 'postmark',
      source_id: SOURCE,
      provider_event_id: null,
      message_id: `m${n}`,
      recipient: `r${n}@example.com`,
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(T0 + n * 1000).toISOString(),
      received_via: 'webhook',
      raw: { RecordType: 'Delivery', n },
    },
  };
}

describe('SQLite migration 016: event and inbox ids as bytes', () => {
  let dir: string;
  let filename: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailhook-id-bytes-'));
    filename = join(dir, 'mailhook.db');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('turns the ids stored at 015 into bytes and finds every row, link and position again', async () => {
    // Two canonical ids and one that is not (it stays a string).
    const events = [event(0), event(1), event(2, 'evt_not_a_ulid')];
    const holderRow = newId('inbox');
    const ownRow = newId('inbox');
    const raw = JSON.stringify(events[0]?.data.raw);
    const db = new Database(filename);
    try {
      db.function('mailhook_dedup_key', (key) => storedDedupKey(String(key)));
      db.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      for (const m of loadMigrations('sqlite').filter((m) => m.version <= 15)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 0);
      }
      db.prepare('INSERT INTO source_keys (id) VALUES (?)').run(SOURCE);
      const inbox = db.prepare(
        `INSERT INTO inbox (id, source_key, provider, received_at, method, path, query, headers, body, status, raw_event)
         VALUES (?, 1, 'postmark', ?, 'POST', '', '', '{}', ?, 'processed', ?)`,
      );
      // Written processed, its body held by its one event (inbox-raw.ts); the other keeps its own.
      inbox.run(holderRow, T0, Buffer.alloc(0), events[0]?.id);
      inbox.run(ownRow, T0 + 1, Buffer.from('{"own":true}'), null);
      const insert = db.prepare(
        `INSERT INTO events (id, source_key, dedup_key, type, occurred_at, recipient, message_id, inbox_id,
                             body, body_format, received_at, provider)
         VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'postmark')`,
      );
      events.forEach((e, n) => {
        const { body, format, receivedAt } = storedBody(e);
        insert.run(
          e.id,
          `key-${n}`,
          e.type,
          Date.parse(e.timestamp),
          e.data.recipient,
          e.data.message_id,
          n === 0 ? holderRow : ownRow,
          body,
          format,
          receivedAt,
        );
      });
    } finally {
      db.close();
    }

    const store = new SqliteStore({ filename });
    try {
      expect(await store.migrate()).toEqual([16]);
      const check = new Database(filename, { readonly: true });
      try {
        expect(
          check
            .prepare('SELECT typeof(id) || length(CAST(id AS BLOB)) FROM events ORDER BY rowid')
            .pluck()
            .all(),
        ).toEqual(['blob16', 'blob16', 'text14']);
        expect(
          check.prepare('SELECT typeof(id) || typeof(inbox_id) FROM events ORDER BY rowid').pluck().all(),
        ).toEqual(['blobblob', 'blobblob', 'textblob']);
        expect(
          check.prepare('SELECT typeof(id) || typeof(raw_event) FROM inbox ORDER BY rowid').pluck().all(),
        ).toEqual(['blobblob', 'blobnull']);
      } finally {
        check.close();
      }
      for (const [n, e] of events.entries()) {
        expect(await store.getEvent(e.id)).toEqual(e);
        expect(await store.eventPosition(e.id)).toEqual({ tx: 0n, seq: BigInt(n + 1) });
      }
      // The row whose body its event holds reads it back through the converted link.
      expect((await store.getInboxRow(holderRow))?.body.toString()).toBe(raw);
      expect((await store.getInboxRow(ownRow))?.body.toString()).toBe('{"own":true}');
      const listed = await store.listInbox({ limit: 1 });
      expect(listed.items.map((r) => r.id)).toEqual([ownRow]);
      const next = await store.listInbox({ limit: 1, cursor: listed.next ?? undefined });
      expect(next.items.map((r) => r.id)).toEqual([holderRow]);
      // Pages by (occurred_at, id), newest first, one event a page.
      const seen: string[] = [];
      let cursor: Parameters<typeof store.listEvents>[0]['cursor'];
      do {
        const page = await store.listEvents({ limit: 1, ...(cursor && { cursor }) });
        seen.push(...page.items.map((e) => e.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      expect(seen).toEqual(events.map((e) => e.id).reverse());
      // What the live tail serves is the same JSON.
      const feed = await store.eventsAfter({ tx: 0n, seq: 0n }, 10);
      expect(feed?.items.map((item) => JSON.stringify(item.event))).toEqual(events.map((e) => eventBody(e)));
    } finally {
      await store.close();
    }
  });

  it('prunes and dates the inbox by the time of each id, whether kept as bytes or as a string', async () => {
    const store = new SqliteStore({ filename });
    try {
      await store.migrate();
      const DAY = 24 * 3600_000;
      const now = T0 + 10 * DAY;
      const cutoff = new Date(now - 5 * DAY);
      // Canonical ids (bytes) and ids too short to be one (kept as strings), either side of the cutoff.
      const canonical = (at: number) => `in_${encodeTime(at)}${newId('inbox').slice(-16)}`;
      const short = (at: number) => `in_${encodeTime(at)}ABC`;
      const rows = {
        oldBytes: canonical(now - 8 * DAY),
        newBytes: canonical(now - 2 * DAY),
        oldString: short(now - 7 * DAY),
        newString: short(now - 3 * DAY),
      };
      await store.appendInbox(
        Object.values(rows).map((id) => ({
          id,
          sourceId: SOURCE,
          provider: 'postmark',
          receivedAt: new Date(T0),
          method: 'POST',
          path: `/ingest/${SOURCE}`,
          query: '',
          headers: {},
          body: Buffer.from('{}'),
        })),
      );
      const db = new Database(filename);
      try {
        db.prepare("UPDATE inbox SET status = 'processed'").run();
        expect(db.prepare('SELECT typeof(id) FROM inbox ORDER BY rowid').pluck().all()).toEqual([
          'blob',
          'blob',
          'text',
          'text',
        ]);
      } finally {
        db.close();
      }
      expect((await store.oldestKept()).inbox).toEqual(new Date(now - 8 * DAY));
      const pruned = await store.pruneBatch('inbox', { inbox: cutoff, events: null, attempts: null }, 100);
      expect(pruned).toBe(2);
      for (const id of [rows.oldBytes, rows.oldString]) expect(await store.getInboxRow(id)).toBeNull();
      for (const id of [rows.newBytes, rows.newString]) expect(await store.getInboxRow(id)).not.toBeNull();
      expect((await store.oldestKept()).inbox).toEqual(new Date(now - 3 * DAY));
    } finally {
      await store.close();
    }
  });
});
