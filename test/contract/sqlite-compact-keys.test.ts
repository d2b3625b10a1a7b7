import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import { storedDedupKey } from '../../src/store/dedup-key.js';
import { SqliteStore } from '../../src/store/index.js';
import { loadMigrations } from '../../src/store/migrations.js';

/**
 * Migrations 014 and 015 (SQLite): digest dedup keys become 16-byte BLOBs, the time index loses its id
 * term, and events and raw requests name their source by an integer key. A database written at 013
 * keeps deduplicating every key it holds, reads back every row with its source id at the same
 * position, new digests are stored as bytes, and pages in time order stay complete and in order when
 * many events share a timestamp.
 */

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const SOURCES = ['src_compact', 'src_other'];

function event(n: number, at: number): CanonicalEvent {
  const SOURCE = SOURCES[n % 2] as string;
  return {
    id: newId('event'),
    type: n % 2 ? 'email.delivered' : 'email.opened',
    timestamp: new Date(at).toISOString(),
    data: {
      provider: 'postmark',
      source_id: SOURCE,
      provider_event_id: null,
      message_id: `m${n % 7}`,
      recipient: `r${n % 5}@example.com`,
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(at).toISOString(),
      raw: { n },
    },
  };
}

/** A long key (stored as a digest) for even n, a short one (stored as it is) for odd n. */
const keyOf = (n: number) => (n % 2 ? `short-${n}` : `Delivery:sha256:${String(n).padStart(64, '0')}`);

describe('SQLite migration 014: compact dedup keys and time index', () => {
  let dir: string;
  let filename: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailhook-compact-keys-'));
    filename = join(dir, 'mailhook.db');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A database migrated to 013 holding `events` as 013's writer stored them (whole bodies), and one
   * processed raw request per source (path left empty, as for a post to its own ingest URL).
   */
  function populateAt013(events: CanonicalEvent[]): void {
    const db = new Database(filename);
    try {
      // Migration 012 rewrites keys with the function the store registers on its connection.
      db.function('mailhook_dedup_key', (key) => storedDedupKey(String(key)));
      db.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      for (const m of loadMigrations('sqlite').filter((m) => m.version <= 13)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 0);
      }
      const insert = db.prepare(
        `INSERT INTO events (id, source_id, dedup_key, type, occurred_at, recipient, message_id, body, provider)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      events.forEach((e, n) => {
        insert.run(
          e.id,
          e.data.source_id,
          storedDedupKey(keyOf(n)),
          e.type,
          Date.parse(e.timestamp),
          e.data.recipient,
          e.data.message_id,
          JSON.stringify(e),
          e.data.provider,
        );
      });
      const inbox = db.prepare(
        `INSERT INTO inbox (id, source_id, provider, received_at, method, path, query, headers, body, status)
         VALUES (?, ?, 'postmark', ?, 'POST', '', '', '{}', ?, 'processed')`,
      );
      SOURCES.forEach((source, n) => {
        inbox.run(`in_0000000000000000000000000${n}`, source, T0, Buffer.from(`{"n":${n}}`));
      });
    } finally {
      db.close();
    }
  }

  function storedKeys(): Array<{ kind: string; bytes: number }> {
    const db = new Database(filename, { readonly: true });
    try {
      return db
        .prepare<[], { kind: string; bytes: number }>(
          'SELECT typeof(dedup_key) AS kind, length(CAST(dedup_key AS BLOB)) AS bytes FROM events ORDER BY rowid',
        )
        .all();
    } finally {
      db.close();
    }
  }

  it('turns the digests stored at 013 into 16 bytes, and every key stored before or after still finds its event', async () => {
    const before = Array.from({ length: 30 }, (_, n) => event(n, T0 + n * 1000));
    populateAt013(before);
    const positions = await (async () => {
      const db = new Database(filename, { readonly: true });
      try {
        return db.prepare<[], { id: string; rowid: number }>('SELECT id, rowid FROM events').all();
      } finally {
        db.close();
      }
    })();
    const store = new SqliteStore({ filename });
    try {
      expect(await store.migrate()).toEqual([14, 15, 16]);
      const db = new Database(filename, { readonly: true });
      try {
        for (const table of ['events', 'inbox']) {
          const columns = db
            .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
            .all()
            .map((c) => c.name);
          expect(columns).toContain('source_key');
          expect(columns).not.toContain('source_id');
        }
        expect(db.prepare('SELECT id FROM source_keys ORDER BY key').pluck().all()).toEqual(SOURCES);
        expect(db.prepare('SELECT DISTINCT typeof(source_key) FROM events').pluck().all()).toEqual([
          'integer',
        ]);
      } finally {
        db.close();
      }
      // Same rowids (the stored order a live tail follows), each event whole with its source id.
      for (const { id, rowid } of positions)
        expect(await store.eventPosition(id)).toEqual({ tx: 0n, seq: BigInt(rowid) });
      for (const e of before) expect(await store.getEvent(e.id)).toEqual(e);
      for (const [n, source] of SOURCES.entries()) {
        const listed = await store.listEvents({ limit: 100, sourceId: source });
        expect(listed.items.map((e) => e.id).sort()).toEqual(
          before
            .filter((e) => e.data.source_id === source)
            .map((e) => e.id)
            .sort(),
        );
        const row = await store.getInboxRow(`in_0000000000000000000000000${n}`);
        expect(row).toMatchObject({
          sourceId: source,
          path: `/ingest/${source}`,
          body: Buffer.from(`{"n":${n}}`),
        });
        expect((await store.listInbox({ limit: 10, sourceId: source })).items.map((r) => r.id)).toEqual([
          `in_0000000000000000000000000${n}`,
        ]);
      }
      expect((await store.listEvents({ limit: 10, sourceId: 'src_never_stored' })).items).toEqual([]);
      expect(storedKeys()).toEqual(
        before.map((_, n) =>
          n % 2 ? { kind: 'text', bytes: keyOf(n).length } : { kind: 'blob', bytes: 16 },
        ),
      );

      const after = Array.from({ length: 30 }, (_, n) => event(n + 30, T0 + (n + 30) * 1000));
      const published = await store.publishEvents(
        after.map((e, n) => ({ event: e, dedupKey: keyOf(n + 30) })),
        {},
        new Date(T0),
      );
      expect(published.every((r) => r.created)).toBe(true);
      // Stored lean after 015: the source id comes back from the key.
      for (const e of after) expect(await store.getEvent(e.id)).toEqual(e);
      expect(storedKeys().slice(30)).toEqual(
        after.map((_, n) =>
          (n + 30) % 2 ? { kind: 'text', bytes: keyOf(n + 30).length } : { kind: 'blob', bytes: 16 },
        ),
      );

      // Every key again, under new event ids: all duplicates, each answered with the stored event.
      const all = [...before, ...after];
      const again = await store.publishEvents(
        all.map((e, n) => ({ event: { ...e, id: newId('event') }, dedupKey: keyOf(n) })),
        {},
        new Date(T0),
      );
      expect(again.filter((r) => r.created)).toEqual([]);
      expect(again.map((r) => r.event.id)).toEqual(all.map((e) => e.id));
      expect(await store.countEvents()).toBe(60);
    } finally {
      await store.close();
    }
  });

  it('pages through events that share timestamps completely and in (occurred_at, id) order, seeking on the time index', async () => {
    const store = new SqliteStore({ filename });
    try {
      await store.migrate();
      // 90 events over 6 distinct times: runs of 15 ties, longer than a page.
      const events = Array.from({ length: 90 }, (_, n) => event(n, T0 + (n % 6) * 1000));
      await store.publishEvents(
        events.map((e, n) => ({ event: e, dedupKey: keyOf(n) })),
        {},
        new Date(T0),
      );
      const expected = [...events]
        .sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || (a.id < b.id ? 1 : -1))
        .map((e) => e.id);
      for (const query of [{}, { type: 'email.opened' }, { since: new Date(T0 + 1000) }]) {
        const seen: string[] = [];
        let cursor: Parameters<typeof store.listEvents>[0]['cursor'];
        do {
          const page = await store.listEvents({ limit: 7, ...query, ...(cursor && { cursor }) });
          seen.push(...page.items.map((e) => e.id));
          cursor = page.next ?? undefined;
        } while (cursor);
        const wanted = expected.filter((id) => {
          const e = events.find((x) => x.id === id) as CanonicalEvent;
          if ('type' in query && e.type !== query.type) return false;
          if ('since' in query && Date.parse(e.timestamp) < (query.since as Date).getTime()) return false;
          return true;
        });
        expect(seen, JSON.stringify(query)).toEqual(wanted);
      }
    } finally {
      await store.close();
    }

    const db = new Database(filename, { readonly: true });
    try {
      const columns = db
        .prepare<[], { name: string }>("SELECT name FROM pragma_index_info('events_time')")
        .all()
        .map((r) => r.name);
      expect(columns).toEqual(['occurred_at']);
      const plan = db
        .prepare<[], { detail: string }>(
          `EXPLAIN QUERY PLAN SELECT id FROM events WHERE (occurred_at, id) < (${T0}, x'ff')
           ORDER BY occurred_at DESC, id DESC LIMIT 8`,
        )
        .all()
        .map((r) => r.detail)
        .join('; ');
      // A seek on the index, and a sort of the ties only (never of the whole range).
      expect(plan).toContain('SEARCH events USING INDEX events_time (occurred_at<?)');
      expect(plan).toContain('LAST TERM OF ORDER BY');
    } finally {
      db.close();
    }
  });
});
