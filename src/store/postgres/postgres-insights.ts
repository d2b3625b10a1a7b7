import type { CanonicalEvent } from '../../events.js';
import { storedDedupKey } from '../dedup-key.js';
import {
  type EffectsContext,
  netSuppressionWrites,
  queueFanOut,
  type SuppressionOp,
  softBouncesEntry,
  suppressionEntry,
} from '../effects.js';
import { type EventBodyRow, eventBodyColumns, eventFromRow, storedBody } from '../event-body.js';
import type {
  HourBucket,
  OperationalCounts,
  RecipientHistoryItem,
  SuppressionEntry,
  SuppressionQuery,
} from '../insight-types.js';
import { type SuppressionRow, suppressionFrom } from '../rows.js';
import type { Page } from '../store.js';
import { INT8, type Queryable, TEXT } from './connection.js';

/** PostgreSQL twin of src/store/sqlite/insights.ts: effects of new events, suppressions, timelines. */

/** An events row; `firstOfType` as decided by firstOfTypeFlags (./stats-rollup.ts). */
export function eventRow(
  event: CanonicalEvent,
  dedupKey: string,
  inboxId: string | null,
  firstOfType: boolean,
) {
  const { body, format, receivedAt } = storedBody(event);
  return {
    id: event.id,
    source_id: event.data.source_id,
    dedup_key: storedDedupKey(dedupKey),
    type: event.type,
    occurred_at: Date.parse(event.timestamp),
    recipient: event.data.recipient,
    message_id: event.data.message_id,
    inbox_id: inboxId,
    body,
    body_format: format,
    received_at: receivedAt,
    provider: event.data.provider,
    bounce_type: event.data.bounce?.type ?? null,
    first_of_type: firstOfType,
  };
}

/**
 * Queues a new event's deliveries and adds its suppression writes to `ops`, which the caller applies
 * once for the whole transaction (writeSuppressions) rather than with a round trip per event. Only a
 * soft bounce reads here: the recipient's history, from the events the transaction has stored so far.
 */
export async function applyEffects(
  tx: Queryable,
  event: CanonicalEvent,
  ctx: EffectsContext,
  ops: SuppressionOp[],
): Promise<void> {
  queueFanOut(event, ctx);
  const rules = ctx.effects?.suppressions;
  const recipient = event.data.recipient;
  if (!rules || !recipient) return;
  for (const intent of rules.intents(event)) {
    if (intent.op === 'add') {
      ops.push({ op: 'add', entry: suppressionEntry(event, recipient, intent, ctx.now) });
    } else if (intent.op === 'remove') {
      ops.push({ op: 'remove', email: recipient, scope: intent.scope, reason: intent.reason });
    } else {
      const at = Date.parse(event.timestamp);
      const rows = await tx<{ type: string; bounce_type: string | null; occurred_at: number }[]>`
        SELECT type, bounce_type, occurred_at FROM events
        WHERE recipient = ${recipient} AND occurred_at >= ${at - rules.windowMs} AND occurred_at <= ${at + rules.windowMs}
          AND type IN ('email.bounced', 'email.delivered')`;
      const history = rows.map(
        (r): RecipientHistoryItem => ({ type: r.type, bounceType: r.bounce_type, occurredAt: r.occurred_at }),
      );
      if (rules.softBouncesSuppress(history, at)) {
        ops.push({ op: 'add', entry: softBouncesEntry(event, recipient, history, ctx.now) });
      }
    }
  }
}

/** Applies a transaction's suppression ops (applyEffects) in two statements at most. */
export async function writeSuppressions(tx: Queryable, ops: readonly SuppressionOp[]): Promise<void> {
  if (ops.length === 0) return;
  const { removes, adds } = netSuppressionWrites(ops);
  const texts = <T>(rows: T[], pick: (row: T) => string | null) => tx.array(rows.map(pick), TEXT);
  if (removes.length > 0)
    await tx`
      DELETE FROM suppressions s
      USING unnest(${texts(removes, (k) => k.email)}::text[], ${texts(removes, (k) => k.scope)}::text[],
        ${texts(removes, (k) => k.reason)}::text[]) AS k (email, scope, reason)
      WHERE s.email = k.email AND s.scope = k.scope AND s.reason = k.reason`;
  if (adds.length > 0)
    await tx`
      INSERT INTO suppressions (email, scope, reason, detail, event_id, source_id, created_at)
      SELECT * FROM unnest(${texts(adds, (e) => e.email)}::text[], ${texts(adds, (e) => e.scope)}::text[],
        ${texts(adds, (e) => e.reason)}::text[], ${texts(adds, (e) => e.detail)}::text[],
        ${texts(adds, (e) => e.eventId)}::text[], ${texts(adds, (e) => e.sourceId)}::text[],
        ${tx.array(
          adds.map((e) => String(e.createdAt.getTime())),
          INT8,
        )}::bigint[])
      ON CONFLICT (email, scope, reason) DO NOTHING`;
}

export async function upsertSuppression(sql: Queryable, e: SuppressionEntry): Promise<void> {
  await sql`
    INSERT INTO suppressions (email, scope, reason, detail, event_id, source_id, created_at)
    VALUES (${e.email}, ${e.scope}, ${e.reason}, ${e.detail}, ${e.eventId}, ${e.sourceId}, ${e.createdAt.getTime()})
    ON CONFLICT (email, scope, reason) DO NOTHING`;
}

export async function selectSuppressions(
  sql: Queryable,
  emails: string[],
): Promise<Map<string, SuppressionEntry[]>> {
  const result = new Map<string, SuppressionEntry[]>(emails.map((e) => [e, []]));
  if (emails.length === 0) return result;
  const rows = await sql<SuppressionRow[]>`
    SELECT * FROM suppressions WHERE email IN ${sql(emails)} ORDER BY created_at`;
  for (const row of rows) result.get(row.email)?.push(suppressionFrom(row));
  return result;
}

export async function pageSuppressions(
  sql: Queryable,
  query: SuppressionQuery,
): Promise<Page<SuppressionEntry, [number, string, string, string]>> {
  const c = query.cursor;
  const rows = (
    await sql<SuppressionRow[]>`
      SELECT * FROM suppressions WHERE TRUE
        ${query.reason ? sql`AND reason = ${query.reason}` : sql``}
        ${query.scope ? sql`AND scope = ${query.scope}` : sql``}
        ${query.since ? sql`AND created_at >= ${query.since.getTime()}` : sql``}
        ${c ? sql`AND (created_at, email, scope, reason) < (${c[0]}, ${c[1]}, ${c[2]}, ${c[3]})` : sql``}
      ORDER BY created_at DESC, email DESC, scope DESC, reason DESC LIMIT ${query.limit + 1}`
  ).map(suppressionFrom);
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items,
    next:
      rows.length > query.limit && last
        ? [last.createdAt.getTime(), last.email, last.scope, last.reason]
        : null,
  };
}

export async function deleteSuppressions(
  sql: Queryable,
  email: string,
  filter: { scope?: string; reason?: string },
): Promise<number> {
  const result = await sql`
    DELETE FROM suppressions WHERE email = ${email}
      ${filter.scope ? sql`AND scope = ${filter.scope}` : sql``}
      ${filter.reason ? sql`AND reason = ${filter.reason}` : sql``}`;
  return result.count;
}

export { selectStats } from './stats-rollup.js';

export async function selectMessageEvents(
  sql: Queryable,
  messageId: string,
  limit: number,
): Promise<CanonicalEvent[]> {
  const rows = await sql<EventBodyRow[]>`
    SELECT ${sql.unsafe(eventBodyColumns())} FROM events
    WHERE message_id = ${messageId} ORDER BY occurred_at, id LIMIT ${limit}`;
  return rows.map(eventFromRow);
}

export async function selectRecipientEvents(
  sql: Queryable,
  recipient: string,
  limit: number,
): Promise<CanonicalEvent[]> {
  const rows = await sql<EventBodyRow[]>`
    SELECT ${sql.unsafe(eventBodyColumns())} FROM events
    WHERE recipient = ${recipient} ORDER BY occurred_at DESC, id DESC LIMIT ${limit}`;
  return rows.map(eventFromRow);
}

export async function selectOperationalCounts(sql: Queryable, now: Date): Promise<OperationalCounts> {
  const [oldest] = await sql<{ received_at: number }[]>`
    SELECT received_at FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 1`;
  const [pending] = await sql<{ n: number }[]>`SELECT COUNT(*)::int AS n FROM inbox WHERE status = 'pending'`;
  const [due] = await sql<{ n: number }[]>`
    SELECT COUNT(*)::int AS n FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ${now.getTime()}`;
  const endpointsByState: Record<string, number> = { active: 0, paused: 0, disabled: 0 };
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, COUNT(*)::int AS n FROM endpoints WHERE deleted_at IS NULL GROUP BY status`;
  for (const row of rows) endpointsByState[row.status] = row.n;
  return {
    pendingInbox: pending?.n ?? 0,
    oldestPendingAt: oldest ? new Date(oldest.received_at) : null,
    dueDeliveries: due?.n ?? 0,
    endpointsByState,
  };
}

const HOUR = 3_600_000;

function bucketsOf(rows: Array<{ h: number; total: number; ok: number; avg: number | null }>): HourBucket[] {
  return rows.map((r) => ({
    hour: new Date(Number(r.h) * HOUR).toISOString(),
    total: r.total,
    ok: r.ok,
    avgMs: r.avg === null ? null : Math.round(Number(r.avg)),
  }));
}

export async function selectEndpointHistory(
  sql: Queryable,
  endpointId: string,
  since: Date,
): Promise<HourBucket[]> {
  const rows = await sql<{ h: number; total: number; ok: number; avg: number | null }[]>`
    SELECT (started_at / ${HOUR})::bigint AS h, COUNT(*)::int AS total, SUM(ok)::int AS ok, AVG(duration_ms)::float8 AS avg
    FROM attempts WHERE endpoint_id = ${endpointId} AND started_at >= ${since.getTime()} GROUP BY h ORDER BY h`;
  return bucketsOf(rows);
}

export async function selectSourceHistory(
  sql: Queryable,
  sourceId: string,
  since: Date,
): Promise<HourBucket[]> {
  const rows = await sql<{ h: number; total: number; ok: number; avg: null }[]>`
    SELECT (received_at / ${HOUR})::bigint AS h, COUNT(*)::int AS total,
      SUM(CASE WHEN status = 'quarantined' THEN 0 ELSE 1 END)::int AS ok, NULL AS avg
    FROM inbox WHERE source_id = ${sourceId} AND received_at >= ${since.getTime()} GROUP BY h ORDER BY h`;
  return bucketsOf(rows);
}
