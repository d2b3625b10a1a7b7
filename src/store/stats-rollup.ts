import type { CanonicalEvent } from '../events.js';
import type { StatsQuery, StatsRow } from './insight-types.js';

/**
 * GET /v1/stats from hourly rollups, the part both stores share. Terms:
 * - hour: an event's `occurred_at` floored to the hour (UTC), in Unix milliseconds.
 * - first of type: an event with a message id that was the first of its (message id, type) to be
 *   stored (`events.first_of_type`). Unique messages are a sum of these, so they add up across hours.
 *   Events stored before migration 007 took the flag from time order: the earliest (occurred_at, id).
 * - recipient domain: what follows the last `@` of the recipient, with A–Z lower-cased; none when
 *   there is no `@` or nothing after it. ASCII-only on purpose: SQLite's lower() is, PostgreSQL's
 *   depends on the database's locale, and every store must compute the same key as the writer.
 * - rollup: per (hour, source, provider, type), the events and the first-of-type events among them
 *   (`stats_rollup`); the same per (hour, source, type, recipient domain) (`stats_rollup_domains`).
 *   Two tables so that every grouping but the domain one sums a few rows per hour, however many
 *   domains the recipients have (20,000 domains in 1M events: 1.9 ms by type, 1 s by domain; see
 *   docs/benchmarks.md). A rollup row holds '' for a missing provider or domain.
 * Writers add each transaction's new events to the rollups in that transaction, one upsert per key.
 * A query sums the rollups over the whole hours inside [since, until) and counts the events of the
 * partial hours at either end, so the answer equals a count over the events themselves.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Floors to a multiple of `unit`, also before 1970 (SQL's % keeps the sign of the dividend). */
export function floorTo(ms: number, unit: number): number {
  return ms - (((ms % unit) + unit) % unit);
}

/** `floorTo` in SQL, for an integer column or expression that is safe to repeat. */
export function floorToSql(column: string, unit: number): string {
  return `(${column} - ((${column} % ${unit}) + ${unit}) % ${unit})`;
}

const UPPER = /[A-Z]/;

export function recipientDomain(recipient: string | null | undefined): string | null {
  if (!recipient) return null;
  const at = recipient.lastIndexOf('@');
  if (at < 0 || at === recipient.length - 1) return null;
  const domain = recipient.slice(at + 1);
  return UPPER.test(domain) ? domain.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : domain;
}

export interface RollupRow {
  hour: number;
  sourceId: string;
  provider: string;
  type: string;
  events: number;
  messages: number;
}

export interface DomainRollupRow {
  hour: number;
  sourceId: string;
  type: string;
  domain: string;
  events: number;
  messages: number;
}

/** What one transaction adds to the rollups: its new events, summed per key. */
export class RollupDelta {
  private readonly rows = new Map<string, RollupRow>();
  private readonly domainRows = new Map<string, DomainRollupRow>();

  add(event: CanonicalEvent, firstOfType: boolean): void {
    const hour = floorTo(Date.parse(event.timestamp), HOUR_MS);
    const sourceId = event.data.source_id;
    const provider = event.data.provider ?? '';
    const type = event.type;
    const domain = recipientDomain(event.data.recipient) ?? '';
    const messages = firstOfType ? 1 : 0;
    const key = JSON.stringify([hour, sourceId, provider, type]);
    const row = this.rows.get(key);
    if (row) {
      row.events++;
      row.messages += messages;
    } else {
      this.rows.set(key, { hour, sourceId, provider, type, events: 1, messages });
    }
    const domainKey = JSON.stringify([hour, sourceId, type, domain]);
    const domainRow = this.domainRows.get(domainKey);
    if (domainRow) {
      domainRow.events++;
      domainRow.messages += messages;
    } else {
      this.domainRows.set(domainKey, { hour, sourceId, type, domain, events: 1, messages });
    }
  }

  get empty(): boolean {
    return this.rows.size === 0;
  }

  /** In key order, so that PostgreSQL nodes writing the same keys lock them in one order (no deadlock). */
  typeRows(): RollupRow[] {
    return sortedValues(this.rows);
  }

  domainRollupRows(): DomainRollupRow[] {
    return sortedValues(this.domainRows);
  }
}

function sortedValues<T>(map: Map<string, T>): T[] {
  return [...map.keys()].sort().map((key) => map.get(key) as T);
}

/** A (message id, type) as a set key. */
export function pairKey(messageId: string, type: string): string {
  return JSON.stringify([messageId, type]);
}

/** The (message id, type) an event may be first of, as a pairKey; null without a message id. */
export function firstOfTypePair(event: CanonicalEvent): string | null {
  const messageId = event.data.message_id;
  return messageId === null || messageId === undefined ? null : pairKey(messageId, event.type);
}

/**
 * Which of a batch's events are first of their type, for a store that inserts the batch in one
 * statement: not when the pair is `taken` (stored already; the set is updated), nor when an earlier
 * event of the batch claimed it, nor when the event repeats an earlier one's (source, dedup key), as
 * that one is the one kept.
 */
export function claimFirstOfType(
  candidates: ReadonlyArray<{ event: CanonicalEvent; dedupKey: string }>,
  taken: Set<string>,
): boolean[] {
  const keys = new Set<string>();
  return candidates.map(({ event, dedupKey }) => {
    const key = JSON.stringify([event.data.source_id, dedupKey]);
    if (keys.has(key)) return false;
    keys.add(key);
    const pair = firstOfTypePair(event);
    if (pair === null || taken.has(pair)) return false;
    taken.add(pair);
    return true;
  });
}

/** A [from, to) range of Unix milliseconds. */
export interface TimeRange {
  from: number;
  to: number;
}

/**
 * How a window is answered: the whole hours inside it from the rollups, the partial hours at its ends
 * (at most two ranges, each under an hour) from the events.
 */
export function planStats(query: Pick<StatsQuery, 'since' | 'until'>): {
  hours: TimeRange | null;
  scans: TimeRange[];
} {
  const since = query.since.getTime();
  const until = query.until.getTime();
  const from = floorTo(since + HOUR_MS - 1, HOUR_MS);
  const to = floorTo(until, HOUR_MS);
  if (from >= to) return { hours: null, scans: since < until ? [{ from: since, to: until }] : [] };
  const scans: TimeRange[] = [];
  if (since < from) scans.push({ from: since, to: from });
  if (to < until) scans.push({ from: to, to: until });
  return { hours: { from, to }, scans };
}

/** A (group, type) count as SQL returns it: `day` groups are the day's first millisecond. */
export interface GroupCount {
  grp: string | number | null;
  type: string;
  n: number;
  m: number;
}

/** Formats the groups and sorts the rows (null group first, then by group and type). */
export function statsRows(groupBy: StatsQuery['groupBy'], counts: GroupCount[]): StatsRow[] {
  const rows = counts.map(
    (c): StatsRow => ({
      group:
        c.grp === null
          ? null
          : groupBy === 'day'
            ? new Date(Number(c.grp)).toISOString().slice(0, 10)
            : String(c.grp),
      type: c.type,
      count: Number(c.n),
      messages: Number(c.m),
    }),
  );
  return rows.sort(
    (a, b) =>
      (a.group === null ? -1 : 0) - (b.group === null ? -1 : 0) ||
      compare(a.group ?? '', b.group ?? '') ||
      compare(a.type, b.type),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The GROUP BY expression of each grouping, over the rollups and over the events (edge hours). */
export type StatsGroups = Record<StatsQuery['groupBy'], { table: string; rollup: string; events: string }>;

/**
 * The groupings both stores share; each rollup/events pair must agree row for row. A dialect gives its
 * typed NULL, its recipient-domain expression (which must match the writer's `domainOf`) and, when its
 * events rows hold no source_id column, the expression that reads it.
 */
export function statsGroups(dialect: {
  nullText: string;
  recipientDomain: string;
  eventSourceId?: string;
}): StatsGroups {
  return {
    type: { table: 'stats_rollup', rollup: dialect.nullText, events: dialect.nullText },
    provider: { table: 'stats_rollup', rollup: "NULLIF(provider, '')", events: "NULLIF(provider, '')" },
    source: { table: 'stats_rollup', rollup: 'source_id', events: dialect.eventSourceId ?? 'source_id' },
    day: {
      table: 'stats_rollup',
      rollup: floorToSql('hour', DAY_MS),
      events: floorToSql('occurred_at', DAY_MS),
    },
    recipient_domain: {
      table: 'stats_rollup_domains',
      rollup: "NULLIF(domain, '')",
      events: dialect.recipientDomain,
    },
  };
}
