import { decodeTime } from '../../ids.js';
import { HELD_BODIES_AMONG, type HeldBody, HOLDS_NO_BODY, heldBody, RESTORE_BODY } from '../inbox-raw.js';
import { idBound, type PrunedTable, type RetentionCutoffs } from '../retention.js';
import type { Sql } from './connection.js';

// One batch per transaction, and one batch at a time across every node sharing the database: a node
// that finds another pruning skips its turn (the work is the same, and two would only fight over locks).
// SKIP LOCKED leaves rows a running transaction holds to a later batch.

/** The events a batch takes (parameters: the cutoff, the limit), `and` one more condition. */
const EXPIRED_EVENTS = (and: string) => `
  SELECT e.id FROM events e
  WHERE e.occurred_at < $1
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
    ${and}
  ORDER BY e.occurred_at LIMIT $2`;

const PRUNE_EVENTS = `DELETE FROM events WHERE id IN (${EXPIRED_EVENTS(`AND ${HOLDS_NO_BODY}`)} FOR UPDATE SKIP LOCKED)`;
const HELD_BODIES = HELD_BODIES_AMONG(EXPIRED_EVENTS(''), 'id');

const PRUNE_INBOX = `
  DELETE FROM inbox WHERE id IN (
    SELECT id FROM inbox
    WHERE id < $1 AND (status = 'processed' OR (status = 'quarantined' AND id < $2))
    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)`;

const PRUNE_DELIVERIES = `
  DELETE FROM deliveries WHERE id IN (
    SELECT id FROM deliveries WHERE id < $1 AND status <> 'pending'
    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`;

const PRUNE_ATTEMPTS = `
  DELETE FROM attempts WHERE id IN (
    SELECT id FROM attempts WHERE id < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`;

function statementFor(
  table: PrunedTable,
  cutoffs: RetentionCutoffs,
  limit: number,
): [string, unknown[]] | null {
  switch (table) {
    case 'events':
      return cutoffs.events ? [PRUNE_EVENTS, [cutoffs.events.getTime(), limit]] : null;
    case 'inbox':
      return cutoffs.inbox
        ? [
            PRUNE_INBOX,
            [idBound('inbox', cutoffs.inbox), cutoffs.events ? idBound('inbox', cutoffs.events) : '', limit],
          ]
        : null;
    case 'deliveries':
      return cutoffs.attempts ? [PRUNE_DELIVERIES, [idBound('delivery', cutoffs.attempts), limit]] : null;
    case 'attempts':
      return cutoffs.attempts ? [PRUNE_ATTEMPTS, [idBound('attempt', cutoffs.attempts), limit]] : null;
  }
}

/** Deleted rows, or 0 when another node holds the pruning turn. */
export async function pruneBatch(
  sql: Sql,
  schema: string,
  table: PrunedTable,
  cutoffs: RetentionCutoffs,
  limit: number,
): Promise<number> {
  const statement = statementFor(table, cutoffs, limit);
  if (!statement) return 0;
  const [text, params] = statement;
  return (await sql.begin(async (tx) => {
    const [turn] = await tx<{ ok: boolean }[]>`
      SELECT pg_try_advisory_xact_lock(hashtext(${`mailhook:prune:${schema}`})) AS ok`;
    if (!turn?.ok) return 0;
    if (table === 'events') {
      const held = await tx.unsafe<HeldBody[]>(HELD_BODIES, params as never[]);
      for (const row of held)
        await tx.unsafe(RESTORE_BODY('$1', '$2', '$3'), [heldBody(row), row.inbox_id, row.ev_id]);
    }
    const result = await tx.unsafe(text, params as never[]);
    return result.count;
  })) as number;
}

export async function oldestKept(sql: Sql): Promise<Record<PrunedTable, Date | null>> {
  const [row] = await sql<
    { events: string | null; inbox: string | null; deliveries: string | null; attempts: string | null }[]
  >`
    SELECT (SELECT MIN(occurred_at) FROM events)::text AS events,
           (SELECT MIN(id) FROM inbox) AS inbox,
           (SELECT MIN(id) FROM deliveries) AS deliveries,
           (SELECT MIN(id) FROM attempts) AS attempts`;
  const fromId = (id: string | null | undefined) =>
    id ? new Date(decodeTime(id.slice(id.indexOf('_') + 1))) : null;
  return {
    events: row?.events == null ? null : new Date(Number(row.events)),
    inbox: fromId(row?.inbox),
    deliveries: fromId(row?.deliveries),
    attempts: fromId(row?.attempts),
  };
}

/**
 * Deleted rows leave dead tuples that only a VACUUM makes reusable. Autovacuum does that on a default
 * server; where it is turned off, the tables would grow for ever under retention, so the pruner
 * vacuums what it deleted from (a plain VACUUM: reads and writes go on meanwhile).
 */
export async function reclaim(sql: Sql, tables: PrunedTable[]): Promise<void> {
  if (tables.length === 0) return;
  const [setting] = await sql<{ on: boolean }[]>`SELECT current_setting('autovacuum') = 'on' AS on`;
  if (setting?.on) return;
  for (const table of tables) await sql.unsafe(`VACUUM ${table}`);
}
