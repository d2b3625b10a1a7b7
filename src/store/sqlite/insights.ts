import type Database from 'better-sqlite3';
import type { CanonicalEvent } from '../../events.js';
import { sqliteDedupKey } from '../dedup-key.js';
import { type EffectsContext, queueFanOut, softBouncesEntry, suppressionEntry } from '../effects.js';
import { type EventBodyRow, eventFromRow, storedBody } from '../event-body.js';
import type {
  HourBucket,
  OperationalCounts,
  RecipientHistoryItem,
  SuppressionEntry,
  SuppressionQuery,
} from '../insight-types.js';
import { type SuppressionRow, suppressionFrom } from '../rows.js';
import type { Page } from '../store.js';
import { idBytes } from '../stored-id.js';
import { Filters } from './filters.js';
import { eventColumns, SOURCE_KEY, sourceIs } from './source-keys.js';

/**
 * Effects of new events (fan-out, suppressions), the suppression list, timelines and stats for
 * SQLite. Synchronous; called inside the caller's transaction where one is needed.
 */

export function insertEventStatement(db: Database.Database): Database.Statement {
  return db.prepare(
    `INSERT INTO events (id, source_key, dedup_key, type, occurred_at, recipient, message_id, inbox_id, body, body_format, received_at, provider, bounce_type, first_of_type)
     VALUES (?, ${SOURCE_KEY}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (source_key, dedup_key) DO NOTHING`,
  );
}

/**
 * An events row's values; `firstOfType` as isFirstOfType (./stats-rollup.ts) decided just before. The
 * event's source id must have its key (ensureSourceKeys).
 */
export function eventParams(
  event: CanonicalEvent,
  dedupKey: string,
  inboxId: string | null,
  firstOfType: boolean,
): unknown[] {
  const { body, format, receivedAt } = storedBody(event);
  return [
    idBytes(event.id, 'evt'),
    event.data.source_id,
    sqliteDedupKey(dedupKey),
    event.type,
    Date.parse(event.timestamp),
    event.data.recipient,
    event.data.message_id,
    idBytes(inboxId, 'in'),
    body,
    format,
    receivedAt,
    event.data.provider,
    event.data.bounce?.type ?? null,
    firstOfType ? 1 : 0,
  ];
}

/** Applies a NEW event's effects: queue its deliveries and update the suppression list. */
export function applyEffects(db: Database.Database, event: CanonicalEvent, ctx: EffectsContext): void {
  queueFanOut(event, ctx);
  const rules = ctx.effects?.suppressions;
  const recipient = event.data.recipient;
  if (!rules || !recipient) return;
  for (const intent of rules.intents(event)) {
    if (intent.op === 'add') {
      upsertSuppression(db, suppressionEntry(event, recipient, intent, ctx.now));
    } else if (intent.op === 'remove') {
      db.prepare('DELETE FROM suppressions WHERE email = ? AND scope = ? AND reason = ?').run(
        recipient,
        intent.scope,
        intent.reason,
      );
    } else {
      const at = Date.parse(event.timestamp);
      const history = db
        .prepare<[string, number, number], { type: string; bounce_type: string | null; occurred_at: number }>(
          `SELECT type, bounce_type, occurred_at FROM events
           WHERE recipient = ? AND occurred_at >= ? AND occurred_at <= ? AND type IN ('email.bounced', 'email.delivered')`,
        )
        .all(recipient, at - rules.windowMs, at + rules.windowMs)
        .map(
          (r): RecipientHistoryItem => ({
            type: r.type,
            bounceType: r.bounce_type,
            occurredAt: r.occurred_at,
          }),
        );
      if (rules.softBouncesSuppress(history, at)) {
        upsertSuppression(db, softBouncesEntry(event, recipient, history, ctx.now));
      }
    }
  }
}

/** The first cause is kept: re-suppressing an address does not rewrite why it was suppressed. */
export function upsertSuppression(db: Database.Database, e: SuppressionEntry): void {
  db.prepare(
    `INSERT INTO suppressions (email, scope, reason, detail, event_id, source_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email, scope, reason) DO NOTHING`,
  ).run(e.email, e.scope, e.reason, e.detail, e.eventId, e.sourceId, e.createdAt.getTime());
}

export function selectSuppressions(db: Database.Database, emails: string[]): Map<string, SuppressionEntry[]> {
  const result = new Map<string, SuppressionEntry[]>(emails.map((e) => [e, []]));
  const stmt = db.prepare<[string], SuppressionRow>(
    'SELECT * FROM suppressions WHERE email = ? ORDER BY created_at',
  );
  for (const email of result.keys()) result.set(email, stmt.all(email).map(suppressionFrom));
  return result;
}

export function pageSuppressions(
  db: Database.Database,
  query: SuppressionQuery,
): Page<SuppressionEntry, [number, string, string, string]> {
  const filters = new Filters()
    .add('reason = ?', query.reason)
    .add('scope = ?', query.scope)
    .add('created_at >= ?', query.since?.getTime())
    .add('(created_at, email, scope, reason) < (?, ?, ?, ?)', ...(query.cursor ?? [undefined]));
  const rows = db
    .prepare<unknown[], SuppressionRow>(
      `SELECT * FROM suppressions ${filters.where}
       ORDER BY created_at DESC, email DESC, scope DESC, reason DESC LIMIT ?`,
    )
    .all(...filters.params, query.limit + 1)
    .map(suppressionFrom);
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

export function deleteSuppressions(
  db: Database.Database,
  email: string,
  filter: { scope?: string; reason?: string },
): number {
  const filters = new Filters('email = ?').add('scope = ?', filter.scope).add('reason = ?', filter.reason);
  return db.prepare(`DELETE FROM suppressions ${filters.where}`).run(email, ...filters.params).changes;
}

export { selectStats } from './stats-rollup.js';

export function selectMessageEvents(
  db: Database.Database,
  messageId: string,
  limit: number,
): CanonicalEvent[] {
  return db
    .prepare<[string, number], EventBodyRow>(
      `SELECT ${eventColumns()} FROM events WHERE message_id = ? ORDER BY occurred_at, id LIMIT ?`,
    )
    .all(messageId, limit)
    .map(eventFromRow);
}

export function selectRecipientEvents(
  db: Database.Database,
  recipient: string,
  limit: number,
): CanonicalEvent[] {
  return db
    .prepare<[string, number], EventBodyRow>(
      `SELECT ${eventColumns()} FROM events WHERE recipient = ? ORDER BY occurred_at DESC, id DESC LIMIT ?`,
    )
    .all(recipient, limit)
    .map(eventFromRow);
}

export function selectOperationalCounts(db: Database.Database, now: Date): OperationalCounts {
  const oldest = db
    .prepare<[], { received_at: number }>(
      "SELECT received_at FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 1",
    )
    .get();
  const pending =
    db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM inbox WHERE status = 'pending'").get()?.n ?? 0;
  const due =
    db
      .prepare<[number], { n: number }>(
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?",
      )
      .get(now.getTime())?.n ?? 0;
  const endpointsByState: Record<string, number> = { active: 0, paused: 0, disabled: 0 };
  for (const row of db
    .prepare<[], { status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM endpoints WHERE deleted_at IS NULL GROUP BY status',
    )
    .all()) {
    endpointsByState[row.status] = row.n;
  }
  return {
    pendingInbox: pending,
    oldestPendingAt: oldest ? new Date(oldest.received_at) : null,
    dueDeliveries: due,
    endpointsByState,
  };
}

const HOUR = 3_600_000;

function bucketsOf(rows: Array<{ h: number; total: number; ok: number; avg: number | null }>): HourBucket[] {
  return rows.map((r) => ({
    hour: new Date(r.h * HOUR).toISOString(),
    total: r.total,
    ok: r.ok,
    avgMs: r.avg === null ? null : Math.round(r.avg),
  }));
}

export function selectEndpointHistory(db: Database.Database, endpointId: string, since: Date): HourBucket[] {
  return bucketsOf(
    db
      .prepare<[string, number], { h: number; total: number; ok: number; avg: number | null }>(
        `SELECT started_at / ${HOUR} AS h, COUNT(*) AS total, SUM(ok) AS ok, AVG(duration_ms) AS avg
         FROM attempts WHERE endpoint_id = ? AND started_at >= ? GROUP BY h ORDER BY h`,
      )
      .all(endpointId, since.getTime()),
  );
}

export function selectSourceHistory(db: Database.Database, sourceId: string, since: Date): HourBucket[] {
  return bucketsOf(
    db
      .prepare<[string, number], { h: number; total: number; ok: number; avg: null }>(
        `SELECT received_at / ${HOUR} AS h, COUNT(*) AS total,
           SUM(CASE WHEN status = 'quarantined' THEN 0 ELSE 1 END) AS ok, NULL AS avg
         FROM inbox WHERE ${sourceIs()} AND received_at >= ? GROUP BY h ORDER BY h`,
      )
      .all(sourceId, since.getTime()),
  );
}
