import type Database from 'better-sqlite3';
import type { CanonicalEvent } from '../../events.js';
import { countInserted, type EffectsContext, emptySummary } from '../effects.js';
import { type InboxDbRow, inboxRowFrom } from '../rows.js';
import type { BatchSummary, EventEffects, InboxRow, PublishedEvent, RowOutcome } from '../store.js';
import { insertDeliveries, selectEndpoints } from './delivery-store.js';
import { applyEffects, eventParams, insertEventStatement } from './insights.js';

/**
 * Writing events, for SQLite: the pipeline's ONE transaction per batch (claim rows, insert events,
 * apply their effects, mark rows) and publishing. Synchronous, like everything in better-sqlite3.
 */

export function processInboxBatch(
  db: Database.Database,
  limit: number,
  plan: (rows: InboxRow[]) => RowOutcome[],
  effects?: EventEffects,
  at?: Date,
): BatchSummary {
  const summary = emptySummary();
  const insertEvent = insertEventStatement(db);
  const markProcessed = db.prepare(
    `UPDATE inbox SET status = 'processed', attempts = attempts + 1, error = NULL, notes = ?,
       event_count = ?, duplicate_count = ?, processed_at = ?
     WHERE id = ? AND status = 'pending'`,
  );
  const markQuarantined = db.prepare(
    `UPDATE inbox SET status = 'quarantined', attempts = attempts + 1, error = ?, notes = NULL,
       event_count = 0, duplicate_count = 0, processed_at = ?
     WHERE id = ? AND status = 'pending'`,
  );
  db.transaction(() => {
    const rows = db
      .prepare<[number], InboxDbRow>("SELECT * FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?")
      .all(limit)
      .map(inboxRowFrom);
    summary.rows = rows.length;
    if (rows.length === 0) return;
    const now = (at ?? new Date()).getTime();
    const ctx = effectsContext(db, effects, now);
    const fresh: CanonicalEvent[] = [];
    for (const outcome of plan(rows)) {
      if (outcome.kind === 'quarantined') {
        markQuarantined.run(outcome.error, now, outcome.inboxId);
        summary.quarantined++;
        continue;
      }
      let inserted = 0;
      for (const { dedupKey, event } of outcome.events) {
        if (insertEvent.run(...eventParams(event, dedupKey, outcome.inboxId)).changes !== 1) continue;
        inserted++;
        fresh.push(event);
      }
      const duplicates = outcome.events.length - inserted;
      const notes = outcome.notes.length ? JSON.stringify(outcome.notes) : null;
      markProcessed.run(notes, inserted, duplicates, now, outcome.inboxId);
      summary.processed++;
      summary.inserted += inserted;
      summary.duplicates += duplicates;
    }
    // Effects run once the whole batch is stored, so rules that read history see all of it.
    for (const event of fresh) {
      applyEffects(db, event, ctx);
      countInserted(summary, event);
    }
    summary.deliveries = insertDeliveries(db, ctx.fanOut, new Date(now));
  }).immediate();
  return summary;
}

function effectsContext(
  db: Database.Database,
  effects: EventEffects | undefined,
  now: number,
): EffectsContext {
  const endpoints = effects?.route ? selectEndpoints(db, { routable: true }) : [];
  return { effects, endpoints, now, fanOut: [] };
}

export function publishEventBatch(
  db: Database.Database,
  events: PublishedEvent[],
  effects: EventEffects,
  at: Date,
): Array<{ event: CanonicalEvent; created: boolean }> {
  const insertEvent = insertEventStatement(db);
  const existing = db.prepare<[string, string], { body: string }>(
    'SELECT body FROM events WHERE source_id = ? AND dedup_key = ?',
  );
  return db
    .transaction(() => {
      const now = at.getTime();
      const ctx = effectsContext(db, effects, now);
      const results = events.map(({ event, dedupKey }) => {
        if (insertEvent.run(...eventParams(event, dedupKey, null)).changes === 1) {
          applyEffects(db, event, ctx);
          return { event, created: true };
        }
        const row = existing.get(event.data.source_id, dedupKey);
        return { event: row ? (JSON.parse(row.body) as CanonicalEvent) : event, created: false };
      });
      insertDeliveries(db, ctx.fanOut, at);
      return results;
    })
    .immediate();
}
