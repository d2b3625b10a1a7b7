import type { CanonicalEvent } from '../../events.js';
import type { StatsQuery, StatsRow } from '../insight-types.js';
import {
  type GroupCount,
  pairKey,
  planStats,
  type RollupDelta,
  statsGroups,
  statsRows,
  type TimeRange,
} from '../stats-rollup.js';
import { INT4, INT8, type Queryable, type Sql, TEXT } from './connection.js';

/** The stats rollups on PostgreSQL (terms and reasons in ../stats-rollup.ts). */

/**
 * `recipientDomain` in SQL: the last `@`-separated part, A–Z lower-cased with translate() because
 * lower() follows the database's locale.
 */
export const RECIPIENT_DOMAIN_SQL = `CASE WHEN strpos(recipient, '@') > 0 THEN
  NULLIF(translate(reverse(split_part(reverse(recipient), '@', 1)), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '') END`;

const GROUPS = statsGroups({ nullText: 'NULL::text', recipientDomain: RECIPIENT_DOMAIN_SQL });

/**
 * The (message id, type) pairs of these events that stored events have already, as pairKeys, in one
 * statement: each message's few events are read from events_message. OFFSET 0 keeps the type test out
 * of that read; given it, the planner could take events_type or hash the whole table (without
 * statistics it hashed them all for every batch: storing 1M events stalled near 260,000 after 8 min).
 *
 * Two nodes storing events of one message and type at the same instant may both count theirs as
 * first; the rollups still equal a count over the events, which hold the flags.
 */
export async function storedPairs(
  tx: Queryable,
  events: ReadonlyArray<{ event: CanonicalEvent }>,
): Promise<Set<string>> {
  const withId = events.filter(({ event }) => event.data.message_id != null);
  if (withId.length === 0) return new Set();
  const rows = await tx<{ message_id: string; type: string }[]>`
    SELECT p.message_id, p.type
    FROM unnest(${tx.array(
      withId.map(({ event }) => event.data.message_id as string),
      TEXT,
    )}::text[], ${tx.array(
      withId.map(({ event }) => event.type),
      TEXT,
    )}::text[]) AS p (message_id, type)
    WHERE EXISTS (
      SELECT 1 FROM (SELECT e.type FROM events e WHERE e.message_id = p.message_id OFFSET 0) AS m
      WHERE m.type = p.type)`;
  return new Set(rows.map((r) => pairKey(r.message_id, r.type)));
}

/**
 * Adds a transaction's new events to the rollups: one statement, a multi-row upsert per table. The
 * columns go as arrays, so the parameters stay the same whatever the batch (one prepared statement);
 * rows come in key order, so concurrent writers take the row locks in one order.
 */
export async function addToRollups(tx: Queryable, delta: RollupDelta): Promise<void> {
  if (delta.empty) return;
  const rows = delta.typeRows();
  const domains = delta.domainRollupRows();
  const column = <T>(values: T[], type: number) => tx.array(values as never[], type);
  await tx`
    WITH by_type AS (
      INSERT INTO stats_rollup AS r (hour, source_id, provider, type, events, messages)
      SELECT * FROM unnest(${column(
        rows.map((r) => r.hour),
        INT8,
      )}::bigint[], ${column(
        rows.map((r) => r.sourceId),
        TEXT,
      )}::text[], ${column(
        rows.map((r) => r.provider),
        TEXT,
      )}::text[], ${column(
        rows.map((r) => r.type),
        TEXT,
      )}::text[], ${column(
        rows.map((r) => r.events),
        INT4,
      )}::int[], ${column(
        rows.map((r) => r.messages),
        INT4,
      )}::int[])
      ON CONFLICT (hour, source_id, provider, type)
      DO UPDATE SET events = r.events + excluded.events, messages = r.messages + excluded.messages)
    INSERT INTO stats_rollup_domains AS d (hour, source_id, type, domain, events, messages)
    SELECT * FROM unnest(${column(
      domains.map((r) => r.hour),
      INT8,
    )}::bigint[], ${column(
      domains.map((r) => r.sourceId),
      TEXT,
    )}::text[], ${column(
      domains.map((r) => r.type),
      TEXT,
    )}::text[], ${column(
      domains.map((r) => r.domain),
      TEXT,
    )}::text[], ${column(
      domains.map((r) => r.events),
      INT4,
    )}::int[], ${column(
      domains.map((r) => r.messages),
      INT4,
    )}::int[])
    ON CONFLICT (hour, source_id, type, domain)
    DO UPDATE SET events = d.events + excluded.events, messages = d.messages + excluded.messages`;
}

function eventCounts(group: string, sourceId: string | undefined, at: number): string {
  const p = (i: number) => `$${at + i}`;
  return `SELECT ${group} AS grp, type, COUNT(*) AS n, COUNT(*) FILTER (WHERE first_of_type) AS m FROM events
    WHERE occurred_at >= ${p(0)} AND occurred_at < ${p(1)} ${sourceId === undefined ? '' : `AND source_id = ${p(2)}`}
    GROUP BY 1, 2`;
}

function rangeParams(range: TimeRange, sourceId: string | undefined): Array<number | string> {
  return sourceId === undefined ? [range.from, range.to] : [range.from, range.to, sourceId];
}

/**
 * Counts per (group, type): whole hours from the rollups, partial hours from the events, summed in
 * one statement (one snapshot). Group expressions come from the constant table above, values are
 * parameters. Without parallel workers: the partial hours hold a few thousand events, and PostgreSQL
 * would hand each part of the UNION to a worker, whose start cost more than the count (1M events,
 * last 24 h: 2.6–13 ms serial, 134–354 ms with two workers on a busy 2-core machine).
 */
export async function selectStats(sql: Sql, query: StatsQuery): Promise<StatsRow[]> {
  const group = GROUPS[query.groupBy];
  const plan = planStats(query);
  const parts: string[] = [];
  const params: Array<number | string> = [];
  if (plan.hours) {
    const p = (i: number) => `$${params.length + 1 + i}`;
    parts.push(
      `SELECT ${group.rollup} AS grp, type, SUM(events) AS n, SUM(messages) AS m FROM ${group.table}
       WHERE hour >= ${p(0)} AND hour < ${p(1)} ${query.sourceId === undefined ? '' : `AND source_id = ${p(2)}`}
       GROUP BY 1, 2`,
    );
    params.push(...rangeParams(plan.hours, query.sourceId));
  }
  for (const range of plan.scans) {
    parts.push(eventCounts(group.events, query.sourceId, params.length + 1));
    params.push(...rangeParams(range, query.sourceId));
  }
  if (parts.length === 0) return [];
  const text = `SELECT grp, type, SUM(n)::bigint AS n, SUM(m)::bigint AS m FROM (${parts.join(' UNION ALL ')}) AS c
     GROUP BY 1, 2`;
  const counts = (await sql.begin(async (tx) => {
    await tx`SET LOCAL max_parallel_workers_per_gather = 0`;
    return tx.unsafe<GroupCount[]>(text, params, { prepare: true });
  })) as GroupCount[];
  return statsRows(query.groupBy, counts);
}

/** The same counts straight from the events: what the rollups must always equal (tests, bench). */
export async function selectStatsFromEvents(sql: Queryable, query: StatsQuery): Promise<StatsRow[]> {
  const range = { from: query.since.getTime(), to: query.until.getTime() };
  const counts = await sql.unsafe<GroupCount[]>(
    eventCounts(GROUPS[query.groupBy].events, query.sourceId, 1),
    rangeParams(range, query.sourceId),
    { prepare: true },
  );
  return statsRows(query.groupBy, counts);
}
