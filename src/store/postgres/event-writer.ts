import type { CanonicalEvent } from '../../events.js';
import { storedDedupKey } from '../dedup-key.js';
import { countInserted, type EffectsContext, emptySummary, type SuppressionOp } from '../effects.js';
import { type EventBodyRow, eventBodyColumns, eventFromRow, joinedEventColumns } from '../event-body.js';
import { HandedDeliveries, stampTrace, tracesOf } from '../hand-off.js';
import { rawHolder } from '../inbox-raw.js';
import { type InboxDbRow, inboxRowFrom } from '../rows.js';

import { claimFirstOfType, firstOfTypePair, RollupDelta } from '../stats-rollup.js';
import type { BatchSummary, EventEffects, InboxRow, PublishedEvent, RowOutcome } from '../store.js';
import { INT4, parameterChunks, type Queryable, type Sql, TEXT } from './connection.js';
import * as delivery from './postgres-delivery.js';
import { applyEffects, eventRow, writeSuppressions } from './postgres-insights.js';
import { addToRollups, storedPairs } from './stats-rollup.js';

/**
 * Writing events, for PostgreSQL: the pipeline's ONE transaction per batch (rows claimed with
 * FOR UPDATE SKIP LOCKED, events inserted with ON CONFLICT DO NOTHING, effects applied, the stats
 * rollups added to, rows marked) and publishing.
 */

export async function processInboxBatch(
  sql: Sql,
  limit: number,
  plan: (rows: InboxRow[]) => RowOutcome[],
  effects?: EventEffects,
  at?: Date,
): Promise<BatchSummary> {
  const summary = emptySummary();
  await HandedDeliveries.around(effects?.handOff, (handed) =>
    sql.begin(async (tx) => {
      // The row locks are the claim: another node skips these rows, and if this one dies the
      // transaction rolls back and they are pending again.
      const rows = (
        await tx<InboxDbRow[]>`
        SELECT i.*, ${tx.unsafe(joinedEventColumns('e'))} FROM (
          SELECT * FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED
        ) i LEFT JOIN events e ON e.id = i.raw_event ORDER BY i.id`
      ).map(inboxRowFrom);
      summary.rows = rows.length;
      if (rows.length === 0) return;
      const now = (at ?? new Date()).getTime();
      const marks = await writeOutcomes(tx, plan(rows), effects, now, summary, tracesOf(rows), handed);
      const bodies = new Map(rows.map((row) => [row.id, row.body]));
      await markInbox(
        tx,
        marks.map((mark) => ({ ...mark, holder: rawHolder(bodies.get(mark.id), mark.stored) })),
        now,
      );
    }),
  );
  return summary;
}

/**
 * Inserts the events of processed rows (each at most once per source and dedup key), applies the new
 * events' effects, creates their deliveries and adds the events to the stats rollups, inside the
 * caller's transaction; returns what each row is to be marked with. The rollups come last: their rows
 * are shared by every writer of the hour, so their locks are held only until the commit. `traces`
 * (tracesOf) gives the deliveries of a traced row's events that row's trace. Deliveries `handed`
 * leases to this node's worker are written with that lease (HandedDeliveries.around hands them
 * over once the caller's transaction has committed).
 */
export async function writeOutcomes(
  tx: Queryable,
  outcomes: RowOutcome[],
  effects: EventEffects | undefined,
  now: number,
  summary: BatchSummary,
  traces: Map<string, string> | null = null,
  handed: HandedDeliveries | null = null,
): Promise<InboxMark[]> {
  const candidates = outcomes.flatMap((o) =>
    o.kind === 'processed' ? o.events.map((e) => ({ inboxId: o.inboxId, ...e })) : [],
  );
  const insertedIds = new Set<string>();
  const firsts = claimFirstOfType(candidates, await storedPairs(tx, candidates));
  const values = candidates.map(({ inboxId, dedupKey, event }, i) =>
    eventRow(event, dedupKey, inboxId, firsts[i] === true),
  );
  for (const chunk of parameterChunks(values)) {
    const returned = await tx<{ id: string }[]>`
      INSERT INTO events ${tx(chunk)} ON CONFLICT (source_id, dedup_key) DO NOTHING RETURNING id`;
    for (const r of returned) insertedIds.add(r.id);
  }
  const ctx = await effectsContext(tx, effects, now, handed);
  const applied = new Set<string>();
  const rollup = new RollupDelta();
  const suppressions: SuppressionOp[] = [];
  for (const [i, { inboxId, event }] of candidates.entries()) {
    if (!insertedIds.has(event.id) || applied.has(event.id)) continue;
    applied.add(event.id);
    const trace = traces?.get(inboxId);
    if (trace) {
      const from = { fanOut: ctx.fanOut.length, handed: handed?.items.length ?? 0 };
      await applyEffects(tx, event, ctx, suppressions);
      stampTrace(ctx.fanOut, handed, from, trace);
    } else await applyEffects(tx, event, ctx, suppressions);
    countInserted(summary, event);
    rollup.add(event, firsts[i] === true);
  }
  const marks: InboxMark[] = outcomes.map((outcome) => {
    if (outcome.kind === 'quarantined') {
      summary.quarantined++;
      return {
        id: outcome.inboxId,
        status: 'quarantined',
        error: outcome.error,
        notes: null,
        eventCount: 0,
        duplicateCount: 0,
        stored: null,
      };
    }
    // An id counts once even if a plan hands the same event to two rows (the first one wins).
    const inserted = outcome.events.filter((e) => insertedIds.delete(e.event.id)).length;
    const duplicates = outcome.events.length - inserted;
    summary.processed++;
    summary.inserted += inserted;
    summary.duplicates += duplicates;
    const notes = outcome.notes.length ? JSON.stringify(outcome.notes) : null;
    return {
      id: outcome.inboxId,
      status: 'processed',
      error: null,
      notes,
      eventCount: inserted,
      duplicateCount: duplicates,
      stored: outcome.events.length === 1 && inserted === 1 ? (outcome.events[0]?.event ?? null) : null,
    };
  });
  await writeSuppressions(tx, suppressions);
  summary.deliveries = await delivery.insertDeliveries(tx, ctx.fanOut, new Date(now), handed);
  await addToRollups(tx, rollup);
  return marks;
}

/** What the pipeline decided for one inbox row. */
export interface InboxMark {
  id: string;
  status: 'processed' | 'quarantined';
  error: string | null;
  notes: string | null;
  eventCount: number;
  duplicateCount: number;
  /** The row's one event, when it had one and this batch stored it (see inbox-raw.ts). */
  stored: CanonicalEvent | null;
}

/**
 * Marks the whole batch in one statement: the columns go as six arrays, so the parameter count
 * stays the same whatever the batch size and the prepared statement is reused.
 */
async function markInbox(
  tx: Queryable,
  marks: Array<InboxMark & { holder: string | null }>,
  now: number,
): Promise<void> {
  const column = <K extends 'id' | 'status' | 'error' | 'notes' | 'eventCount' | 'duplicateCount' | 'holder'>(
    key: K,
    type: number,
  ) =>
    tx.array(
      marks.map((m) => m[key]),
      type,
    );
  await tx`
    UPDATE inbox AS i SET status = m.status, attempts = i.attempts + 1, error = m.error, notes = m.notes,
      event_count = m.event_count, duplicate_count = m.duplicate_count, processed_at = ${now},
      raw_event = coalesce(m.raw_event, i.raw_event),
      body = CASE WHEN m.raw_event IS NULL THEN i.body ELSE ''::bytea END
    FROM unnest(${column('id', TEXT)}::text[], ${column('status', TEXT)}::text[], ${column('error', TEXT)}::text[],
      ${column('notes', TEXT)}::text[], ${column('eventCount', INT4)}::int[], ${column('duplicateCount', INT4)}::int[],
      ${column('holder', TEXT)}::text[])
      AS m (id, status, error, notes, event_count, duplicate_count, raw_event)
    WHERE i.id = m.id AND i.status = 'pending'`;
}

async function effectsContext(
  tx: Queryable,
  effects: EventEffects | undefined,
  now: number,
  handed: HandedDeliveries | null = null,
): Promise<EffectsContext> {
  const endpoints = effects?.route ? await delivery.selectEndpoints(tx, { routable: true }) : [];
  return { effects, endpoints, now, fanOut: [], handed };
}

export async function publishEventBatch(
  sql: Sql,
  events: PublishedEvent[],
  effects: EventEffects,
  at: Date,
): Promise<Array<{ event: CanonicalEvent; created: boolean }>> {
  return HandedDeliveries.around(effects.handOff, (handed) => publishIn(sql, events, effects, at, handed));
}

function publishIn(
  sql: Sql,
  events: PublishedEvent[],
  effects: EventEffects,
  at: Date,
  handed: HandedDeliveries | null,
): Promise<Array<{ event: CanonicalEvent; created: boolean }>> {
  return sql.begin(async (tx) => {
    const now = at.getTime();
    const ctx = await effectsContext(tx, effects, now, handed);
    const results: Array<{ event: CanonicalEvent; created: boolean }> = [];
    const rollup = new RollupDelta();
    const suppressions: SuppressionOp[] = [];
    // One insert at a time: an event takes its (message id, type) only once it is stored.
    const taken = await storedPairs(tx, events);
    for (const { event, dedupKey } of events) {
      const pair = firstOfTypePair(event);
      const first = pair !== null && !taken.has(pair);
      const [row] = await tx<{ id: string }[]>`
        INSERT INTO events ${tx(eventRow(event, dedupKey, null, first))}
        ON CONFLICT (source_id, dedup_key) DO NOTHING RETURNING id`;
      if (row) {
        if (pair !== null) taken.add(pair);
        await applyEffects(tx, event, ctx, suppressions);
        rollup.add(event, first);
        results.push({ event, created: true });
        continue;
      }
      // A concurrent or earlier publish with the same key won: return what it stored.
      const [stored] = await tx<EventBodyRow[]>`
        SELECT ${tx.unsafe(eventBodyColumns())} FROM events
        WHERE source_id = ${event.data.source_id} AND dedup_key = ${storedDedupKey(dedupKey)}`;
      results.push({ event: stored ? eventFromRow(stored) : event, created: false });
    }
    await writeSuppressions(tx, suppressions);
    await delivery.insertDeliveries(tx, ctx.fanOut, at, handed);
    await addToRollups(tx, rollup);
    return results;
  }) as Promise<Array<{ event: CanonicalEvent; created: boolean }>>;
}
