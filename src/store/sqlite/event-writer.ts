import type Database from 'better-sqlite3';
import type { CanonicalEvent } from '../../events.js';
import { sqliteDedupKey } from '../dedup-key.js';
import { countInserted, type EffectsContext, emptySummary } from '../effects.js';
import { type EventBodyRow, eventFromRow } from '../event-body.js';
import { HandedDeliveries, stampTrace, tracesOf } from '../hand-off.js';
import { rawHolder, withBodyHolder } from '../inbox-raw.js';
import { type InboxDbRow, inboxRowFrom } from '../rows.js';

import { RollupDelta } from '../stats-rollup.js';
import type { BatchSummary, EventEffects, InboxRow, PublishedEvent, RowOutcome } from '../store.js';
import { idBytes } from '../stored-id.js';
import { insertDeliveries, selectEndpoints } from './delivery-store.js';
import { applyEffects, eventParams, insertEventStatement } from './insights.js';
import { ensureSourceKeys, eventColumns, SOURCE_ID_OF, sourceIs } from './source-keys.js';
import { addToRollups, isFirstOfType } from './stats-rollup.js';

/**
 * Writing events, for SQLite: the pipeline's ONE transaction per batch (claim rows, insert events,
 * apply their effects, add them to the stats rollups, mark rows) and publishing. Synchronous, like
 * everything in better-sqlite3.
 */

export function processInboxBatch(
  db: Database.Database,
  limit: number,
  plan: (rows: InboxRow[]) => RowOutcome[],
  effects?: EventEffects,
  at?: Date,
): BatchSummary {
  const summary = emptySummary();
  const markProcessed = db.prepare(
    // A row whose body its one event now holds (inbox-raw.ts) gives the body up; a row reprocessed
    // after that keeps the holder it had.
    `UPDATE inbox SET status = 'processed', attempts = attempts + 1, error = NULL, notes = @notes,
       event_count = @inserted, duplicate_count = @duplicates, processed_at = @now,
       raw_event = coalesce(@holder, raw_event), body = CASE WHEN @holder IS NULL THEN body ELSE x'' END
     WHERE id = @id AND status = 'pending'`,
  );
  const markQuarantined = db.prepare(
    `UPDATE inbox SET status = 'quarantined', attempts = attempts + 1, error = ?, notes = NULL,
       event_count = 0, duplicate_count = 0, processed_at = ?
     WHERE id = ? AND status = 'pending'`,
  );
  HandedDeliveries.around(effects?.handOff, (handed) =>
    db
      .transaction(() => {
        const rows = db
          .prepare<[number], InboxDbRow>(
            withBodyHolder(
              "SELECT * FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?",
              'ORDER BY i.id',
              SOURCE_ID_OF,
            ),
          )
          .all(limit)
          .map(inboxRowFrom);
        summary.rows = rows.length;
        if (rows.length === 0) return;
        const bodies = new Map(rows.map((row) => [row.id, row.body]));
        const now = (at ?? new Date()).getTime();
        writeOutcomes(
          db,
          plan(rows),
          effectsContext(db, effects, now, handed),
          summary,
          {
            processed: (outcome, notes, inserted, duplicates, stored) =>
              markProcessed.run({
                notes,
                inserted,
                duplicates,
                now,
                holder: idBytes(rawHolder(bodies.get(outcome.inboxId), stored), 'evt'),
                id: idBytes(outcome.inboxId, 'in'),
              }),
            quarantined: (outcome) => markQuarantined.run(outcome.error, now, idBytes(outcome.inboxId, 'in')),
          },
          tracesOf(rows),
        );
      })
      .immediate(),
  );
  return summary;
}

/** How the outcome of a row is recorded on the row itself: an UPDATE of a pending row, or its INSERT. */
export interface RowMarks {
  /** `stored`: the row's one event, when it had one and this call stored it (else null). */
  processed(
    outcome: ProcessedOutcome,
    notes: string | null,
    inserted: number,
    duplicates: number,
    stored: CanonicalEvent | null,
  ): void;
  quarantined(outcome: QuarantinedOutcome): void;
}

type ProcessedOutcome = Extract<RowOutcome, { kind: 'processed' }>;
type QuarantinedOutcome = Extract<RowOutcome, { kind: 'quarantined' }>;

/**
 * Inserts the events of processed rows (each at most once per source and dedup key), marks every
 * row, then applies the new events' effects, creates their deliveries and adds them to the stats
 * rollups. Runs inside the caller's transaction. Effects run once the whole group is stored, so rules
 * that read history see all of it. `traces` (tracesOf) gives the deliveries of a traced row's events
 * that row's trace.
 */
export function writeOutcomes(
  db: Database.Database,
  outcomes: RowOutcome[],
  ctx: EffectsContext,
  summary: BatchSummary,
  marks: RowMarks,
  traces: Map<string, string> | null = null,
): void {
  ensureSourceKeys(
    db,
    outcomes.flatMap((outcome) =>
      outcome.kind === 'processed' ? outcome.events.map((e) => e.event.data.source_id) : [],
    ),
  );
  const insertEvent = insertEventStatement(db);
  const fresh: CanonicalEvent[] = [];
  const freshTraces: Array<string | undefined> | null = traces && [];
  const rollup = new RollupDelta();
  for (const outcome of outcomes) {
    if (outcome.kind === 'quarantined') {
      marks.quarantined(outcome);
      summary.quarantined++;
      continue;
    }
    let inserted = 0;
    for (const { dedupKey, event } of outcome.events) {
      const first = isFirstOfType(db, event);
      if (insertEvent.run(...eventParams(event, dedupKey, outcome.inboxId, first)).changes !== 1) continue;
      inserted++;
      fresh.push(event);
      freshTraces?.push(traces?.get(outcome.inboxId));
      rollup.add(event, first);
    }
    const duplicates = outcome.events.length - inserted;
    const notes = outcome.notes.length ? JSON.stringify(outcome.notes) : null;
    const single = outcome.events.length === 1 && inserted === 1 ? (outcome.events[0]?.event ?? null) : null;
    marks.processed(outcome, notes, inserted, duplicates, single);
    summary.processed++;
    summary.inserted += inserted;
    summary.duplicates += duplicates;
  }
  let i = 0;
  for (const event of fresh) {
    const trace = freshTraces?.[i++];
    if (trace) {
      const from = { fanOut: ctx.fanOut.length, handed: ctx.handed?.items.length ?? 0 };
      applyEffects(db, event, ctx);
      stampTrace(ctx.fanOut, ctx.handed, from, trace);
    } else applyEffects(db, event, ctx);
    countInserted(summary, event);
  }
  summary.deliveries = insertDeliveries(db, ctx.fanOut, new Date(ctx.now), ctx.handed ?? null);
  addToRollups(db, rollup);
}

export function effectsContext(
  db: Database.Database,
  effects: EventEffects | undefined,
  now: number,
  handed: HandedDeliveries | null = null,
): EffectsContext {
  const endpoints = effects?.route ? selectEndpoints(db, { routable: true }) : [];
  return { effects, endpoints, now, fanOut: [], handed };
}

export function publishEventBatch(
  db: Database.Database,
  events: PublishedEvent[],
  effects: EventEffects,
  at: Date,
): Array<{ event: CanonicalEvent; created: boolean }> {
  const insertEvent = insertEventStatement(db);
  const existing = db.prepare<[string, string | Buffer], EventBodyRow>(
    `SELECT ${eventColumns()} FROM events WHERE ${sourceIs()} AND dedup_key = ?`,
  );
  return HandedDeliveries.around(effects.handOff, (handed) =>
    db
      .transaction(() => {
        const now = at.getTime();
        ensureSourceKeys(
          db,
          events.map(({ event }) => event.data.source_id),
        );
        const ctx = effectsContext(db, effects, now, handed);
        const rollup = new RollupDelta();
        const results = events.map(({ event, dedupKey }) => {
          const first = isFirstOfType(db, event);
          if (insertEvent.run(...eventParams(event, dedupKey, null, first)).changes === 1) {
            applyEffects(db, event, ctx);
            rollup.add(event, first);
            return { event, created: true };
          }
          const row = existing.get(event.data.source_id, sqliteDedupKey(dedupKey));
          return { event: row ? eventFromRow(row) : event, created: false };
        });
        insertDeliveries(db, ctx.fanOut, at, handed);
        addToRollups(db, rollup);
        return results;
      })
      .immediate(),
  );
}
