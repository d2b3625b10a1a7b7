import type Database from 'better-sqlite3';
import { decodeTime } from '../../ids.js';
import { HELD_BODIES_AMONG, type HeldBody, HOLDS_NO_BODY, heldBody, RESTORE_BODY } from '../inbox-raw.js';
import { idBound, type PrunedTable, type RetentionCutoffs } from '../retention.js';
import { idBytesTime } from '../stored-id.js';
import { SOURCE_ID_OF } from './source-keys.js';
import { EVENT_ID_TEXT, INBOX_ID_BEFORE, inboxIdBefore } from './stored-id-sql.js';

// Each statement deletes at most `limit` rows found through an index, so a batch holds the write lock
// for a bounded time; the pruner sizes `limit` from how long the last batch took.

/** The events a batch takes (parameters: the cutoff, the limit), `and` one more condition. */
const EXPIRED_EVENTS = (and: string) => `
  SELECT e.rowid FROM events e
  WHERE e.occurred_at < ?
    AND e.rowid < (SELECT MAX(rowid) FROM events)
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ${EVENT_ID_TEXT('e.id')} AND d.status = 'pending')
    ${and}
  ORDER BY e.occurred_at LIMIT ?`;

const PRUNE_EVENTS = `DELETE FROM events WHERE rowid IN (${EXPIRED_EVENTS(`AND ${HOLDS_NO_BODY}`)})`;
const HELD_BODIES = HELD_BODIES_AMONG(EXPIRED_EVENTS(''), 'rowid', SOURCE_ID_OF);

const PRUNE_INBOX = `
  DELETE FROM inbox WHERE rowid IN (
    SELECT rowid FROM inbox
    WHERE ${INBOX_ID_BEFORE('id')} AND (status = 'processed' OR (status = 'quarantined' AND ${INBOX_ID_BEFORE('id')}))
    LIMIT ?)`;

const PRUNE_DELIVERIES = `
  DELETE FROM deliveries WHERE rowid IN (
    SELECT rowid FROM deliveries WHERE id < ? AND status <> 'pending' LIMIT ?)`;

const PRUNE_ATTEMPTS = `
  DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM attempts WHERE id < ? LIMIT ?)`;

export function pruneBatch(
  db: Database.Database,
  table: PrunedTable,
  cutoffs: RetentionCutoffs,
  limit: number,
): number {
  switch (table) {
    case 'events': {
      const cutoff = cutoffs.events?.getTime();
      if (cutoff === undefined) return 0;
      // IMMEDIATE: a deferred transaction that reads and then writes fails (SQLITE_BUSY_SNAPSHOT)
      // whenever the pipeline committed in between, which under load is every time.
      return db
        .transaction(() => {
          const held = db.prepare<[number, number], HeldBody>(HELD_BODIES).all(cutoff, limit);
          const restore = db.prepare(RESTORE_BODY('?', '?', '?'));
          for (const row of held) restore.run(heldBody(row), row.inbox_id, row.ev_id);
          return db.prepare(PRUNE_EVENTS).run(cutoff, limit).changes;
        })
        .immediate();
    }
    case 'inbox': {
      if (!cutoffs.inbox) return 0;
      // A quarantined row is never old enough when events are kept forever.
      const params = [...inboxIdBefore(cutoffs.inbox), ...inboxIdBefore(cutoffs.events), limit];
      return db.prepare(PRUNE_INBOX).run(...params).changes;
    }
    case 'deliveries':
      return cutoffs.attempts
        ? db.prepare(PRUNE_DELIVERIES).run(idBound('delivery', cutoffs.attempts), limit).changes
        : 0;
    case 'attempts':
      return cutoffs.attempts
        ? db.prepare(PRUNE_ATTEMPTS).run(idBound('attempt', cutoffs.attempts), limit).changes
        : 0;
  }
}

/** The time of the oldest row each table still holds (null when empty), each from an index's first entry. */
export function oldestKept(db: Database.Database): Record<PrunedTable, Date | null> {
  const event = db.prepare<[], { t: number | null }>('SELECT MIN(occurred_at) AS t FROM events').get();
  const minId = (sql: string) => db.prepare<[], { id: string | Uint8Array | null }>(sql).get()?.id ?? null;
  const timeOf = (id: string | Uint8Array) =>
    typeof id === 'string' ? decodeTime(id.slice(id.indexOf('_') + 1)) : idBytesTime(id);
  const fromId = (table: string) => {
    // The inbox keeps its ids as bytes (stored-id.ts) and any other as a string, which SQLite sorts first.
    const ids =
      table === 'inbox'
        ? [
            minId("SELECT MIN(id) AS id FROM inbox WHERE id >= x''"),
            minId("SELECT MIN(id) AS id FROM inbox WHERE id < x''"),
          ]
        : [minId(`SELECT MIN(id) AS id FROM ${table}`)];
    const times = ids.flatMap((id) => (id === null ? [] : [timeOf(id)]));
    return times.length ? new Date(Math.min(...times)) : null;
  };
  return {
    events: event?.t == null ? null : new Date(event.t),
    inbox: fromId('inbox'),
    deliveries: fromId('deliveries'),
    attempts: fromId('attempts'),
  };
}
