import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { SqliteStore } from '../../src/store/index.js';
import type { EventPosition } from '../../src/store/store.js';
import { idBytes } from '../../src/store/stored-id.js';

/**
 * Stored order on SQLite is the events table's rowid (see EventPosition in src/store/store.ts). SQLite
 * documents that VACUUM "may change the ROWIDs" of a table without an INTEGER PRIMARY KEY; the
 * SQLite bundled with better-sqlite3 keeps them. If an upgrade ever renumbers them, positions that
 * clients hold would point elsewhere: this test is the alarm.
 */

describe('SqliteStore stored order', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  let raw: Database.Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailhook-stored-order-'));
    file = join(dir, 'mailhook.db');
    store = new SqliteStore({ filename: file });
    await store.migrate();
    raw = new Database(file);
  });

  afterEach(async () => {
    raw.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Inserts rows the way the event writer does, with no rowid named. */
  function insert(count: number): string[] {
    const ids: string[] = [];
    raw.prepare("INSERT OR IGNORE INTO source_keys (id) VALUES ('src_vacuum')").run();
    const statement = raw.prepare(
      `INSERT INTO events (id, source_key, dedup_key, type, occurred_at, body)
       VALUES (?, (SELECT key FROM source_keys WHERE id = 'src_vacuum'), ?, 'email.delivered', ?, ?)`,
    );
    for (let i = 0; i < count; i++) {
      const id = newId('event');
      statement.run(
        idBytes(id, 'evt'),
        id,
        Date.now() - i * 60_000,
        JSON.stringify({ id, type: 'email.delivered', data: {} }),
      );
      ids.push(id);
    }
    return ids;
  }

  async function positions(ids: string[]): Promise<Array<EventPosition | null>> {
    return Promise.all(ids.map((id) => store.eventPosition(id)));
  }

  it('VACUUM and VACUUM INTO keep every event at its position, gaps included', async () => {
    const ids = insert(50);
    // Gaps, as deleting events would leave them; never the newest row (see EventPosition).
    raw
      .prepare('DELETE FROM events WHERE id IN (?, ?, ?)')
      .run(...[ids[3], ids[17], ids[30]].map((id) => idBytes(id as string, 'evt')));
    const kept = ids.filter((_, i) => ![3, 17, 30].includes(i));
    const before = await positions(kept);
    expect(before.every((p) => p !== null)).toBe(true);

    raw.exec('VACUUM');
    expect(await positions(kept)).toEqual(before);

    const copyFile = join(dir, 'copy.db');
    raw.prepare('VACUUM INTO ?').run(copyFile);
    const copy = new SqliteStore({ filename: copyFile });
    try {
      expect(await Promise.all(kept.map((id) => copy.eventPosition(id)))).toEqual(before);
      // A follower holding a position from the original continues on the copy.
      const third = before[2] as EventPosition;
      const feed = await copy.eventsAfter(third, 100);
      expect(feed?.items.map((item) => item.event.id)).toEqual(kept.slice(3));
    } finally {
      await copy.close();
    }
  });
});
