import type Database from 'better-sqlite3';
import { alertPolicy, decideAlert } from '../../delivery/health-alerts.js';
import { newId } from '../../ids.js';
import {
  type AttemptRow,
  alertCountersFrom,
  attemptFrom,
  claimedFrom,
  type DeliveryRow,
  deliveryFrom,
  type EndpointAlertRow,
  type EndpointRow,
  endpointFrom,
  msOrNull,
  type ReplayRow,
  type RetryRefusal,
  replayFrom,
  secretsToJson,
  shuffle,
  whyNotRetried,
} from '../delivery-rows.js';
import type {
  AttemptRecord,
  AttemptResult,
  ClaimedDelivery,
  DeliveryQuery,
  DeliveryRecord,
  EndpointPatch,
  EndpointRecord,
  EndpointTransition,
  FairClaimOptions,
  NewDelivery,
  RecordOptions,
  ReplayRecord,
  ReplaySelect,
  RetryResult,
} from '../delivery-types.js';
import { type EventBodyRow, eventFromRow, joinedEventJson } from '../event-body.js';
import type { HandedDeliveries } from '../hand-off.js';
import type { AttemptSample, Page } from '../store.js';
import { idBytes, idText } from '../stored-id.js';
import { Filters } from './filters.js';
import { eventColumns, joinedEvent } from './source-keys.js';
import { EVENT_ID_BYTES } from './stored-id-sql.js';

export const DEFAULT_RECORD_OPTIONS: RecordOptions = { failingAfter: 5 };

/**
 * The delivery half of the SQLite store: endpoints, deliveries, attempts, replays. Every function
 * is synchronous (better-sqlite3); SqliteStore wraps them in its async interface.
 */

export function insertEndpoint(db: Database.Database, e: EndpointRecord): void {
  db.prepare(
    `INSERT INTO endpoints (id, url, description, event_types, filter, headers, secrets, status, status_reason,
       rate_limit, max_concurrency, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    e.id,
    e.url,
    e.description,
    JSON.stringify(e.eventTypes),
    e.filter === null ? null : JSON.stringify(e.filter),
    JSON.stringify(e.headers),
    secretsToJson(e.secrets),
    e.status,
    e.statusReason,
    e.rateLimit,
    e.maxConcurrency,
    e.createdAt.getTime(),
    e.updatedAt.getTime(),
  );
}

export function selectEndpoint(db: Database.Database, id: string): EndpointRecord | null {
  const row = db
    .prepare<[string], EndpointRow>('SELECT * FROM endpoints WHERE id = ? AND deleted_at IS NULL')
    .get(id);
  return row ? endpointFrom(row) : null;
}

export function selectEndpoints(
  db: Database.Database,
  options: { routable?: boolean } = {},
): EndpointRecord[] {
  const sql = options.routable
    ? "SELECT * FROM endpoints WHERE deleted_at IS NULL AND status <> 'disabled' ORDER BY id"
    : 'SELECT * FROM endpoints WHERE deleted_at IS NULL ORDER BY id';
  return db.prepare<[], EndpointRow>(sql).all().map(endpointFrom);
}

export function patchEndpoint(
  db: Database.Database,
  id: string,
  patch: EndpointPatch,
  now: Date,
): EndpointRecord | null {
  const current = selectEndpoint(db, id);
  if (!current) return null;
  const next: EndpointRecord = {
    ...current,
    ...(patch.url !== undefined && { url: patch.url }),
    ...(patch.description !== undefined && { description: patch.description }),
    ...(patch.eventTypes !== undefined && { eventTypes: patch.eventTypes }),
    ...(patch.filter !== undefined && { filter: patch.filter }),
    ...(patch.headers !== undefined && { headers: patch.headers }),
    ...(patch.secrets !== undefined && { secrets: patch.secrets }),
    ...(patch.status !== undefined && { status: patch.status }),
    ...(patch.statusReason !== undefined && { statusReason: patch.statusReason }),
    ...(patch.rateLimit !== undefined && { rateLimit: patch.rateLimit }),
    ...(patch.maxConcurrency !== undefined && { maxConcurrency: patch.maxConcurrency }),
    ...(patch.resetFailures && { consecutiveFailures: 0, firstFailureAt: null }),
    updatedAt: now,
  };
  db.prepare(
    `UPDATE endpoints SET url = ?, description = ?, event_types = ?, filter = ?, headers = ?, secrets = ?,
       status = ?, status_reason = ?, rate_limit = ?, max_concurrency = ?, consecutive_failures = ?,
       first_failure_at = ?, updated_at = ?
     WHERE id = ? AND deleted_at IS NULL`,
  ).run(
    next.url,
    next.description,
    JSON.stringify(next.eventTypes),
    next.filter === null ? null : JSON.stringify(next.filter),
    JSON.stringify(next.headers),
    secretsToJson(next.secrets),
    next.status,
    next.statusReason,
    next.rateLimit,
    next.maxConcurrency,
    next.consecutiveFailures,
    msOrNull(next.firstFailureAt),
    now.getTime(),
    id,
  );
  return next;
}

export function softDeleteEndpoint(db: Database.Database, id: string, now: Date): boolean {
  const result = db
    .prepare(
      "UPDATE endpoints SET deleted_at = ?, status = 'disabled', status_reason = 'deleted' WHERE id = ? AND deleted_at IS NULL",
    )
    .run(now.getTime(), id);
  if (result.changes === 0) return false;
  // Nothing more will be sent to a deleted endpoint; its pending deliveries end as failed.
  db.prepare(
    `UPDATE deliveries SET status = 'failed', last_error = 'endpoint deleted', next_attempt_at = NULL,
       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, completed_at = ?
     WHERE endpoint_id = ? AND status = 'pending'`,
  ).run(now.getTime(), now.getTime(), id);
  return true;
}

/**
 * Inserts deliveries, skipping any that already exist (same event, endpoint and dedupe); returns how
 * many. Those in `handed` were leased at creation to this node's worker (hand-off.ts) and carry it.
 */
export function insertDeliveries(
  db: Database.Database,
  deliveries: NewDelivery[],
  now: Date,
  handed: HandedDeliveries | null = null,
): number {
  const insert = db.prepare(
    `INSERT INTO deliveries (id, event_id, endpoint_id, dedupe, origin, payload, status, next_attempt_at,
       lease_owner, lease_expires_at, created_at, updated_at, trace)
     VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)
     ON CONFLICT (event_id, endpoint_id, dedupe) DO NOTHING`,
  );
  let inserted = 0;
  for (const d of deliveries) {
    const lease = handed?.leaseOf(d.id) ?? null;
    inserted += insert.run(
      d.id,
      d.eventId,
      d.endpointId,
      d.dedupe,
      d.origin,
      d.payload ?? null,
      d.nextAttemptAt.getTime(),
      lease?.owner ?? null,
      lease?.expiresAt ?? null,
      now.getTime(),
      now.getTime(),
      d.trace ?? null,
    ).changes;
  }
  return inserted;
}

interface ClaimRow extends DeliveryRow {
  payload: string | null;
}

/**
 * Claims due deliveries (FairClaimOptions): the active endpoints with due, unleased deliveries go to
 * `plan`, then each gets at most `slots(endpoint)`, oldest due first, taken round-robin across the
 * endpoints (in random order, so no endpoint's backlog always goes first) until `limit`.
 */
export function claimDue(db: Database.Database, options: FairClaimOptions): ClaimedDelivery[] {
  const now = options.now.getTime();
  if (options.limit <= 0) return [];
  // One probe per active endpoint on deliveries_endpoint_due; it stops at the first unleased due row.
  const due = db
    .prepare<[number, number], EndpointRow>(
      `SELECT e.* FROM endpoints e
       WHERE e.deleted_at IS NULL AND e.status = 'active'
         AND EXISTS (SELECT 1 FROM deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= ?
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < ?))`,
    )
    .all(now, now)
    .map(endpointFrom);
  shuffle(due);
  options.plan?.(due);
  const pick = db.prepare<[string, number, number, number], { id: string }>(
    `SELECT id FROM deliveries
     WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at <= ?
       AND (lease_expires_at IS NULL OR lease_expires_at < ?)
     ORDER BY next_attempt_at LIMIT ?`,
  );
  const queues: Array<{ endpoint: EndpointRecord; ids: string[] }> = [];
  for (const endpoint of due) {
    const slots = Math.min(options.limit, options.slots(endpoint));
    if (slots > 0) queues.push({ endpoint, ids: pick.all(endpoint.id, now, now, slots).map((r) => r.id) });
  }
  const lease = db.prepare(
    `UPDATE deliveries SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND status = 'pending'
       AND (lease_expires_at IS NULL OR lease_expires_at < ?)`,
  );
  const load = db.prepare<[string], ClaimRow>(
    `SELECT d.*, ${joinedEvent('e')} FROM deliveries d LEFT JOIN events e ON e.id = ${EVENT_ID_BYTES('d.event_id')}
     WHERE d.id = ?`,
  );
  const claimed: ClaimedDelivery[] = [];
  for (const { endpoint, id } of roundRobin(queues)) {
    if (claimed.length >= options.limit) break;
    if (lease.run(options.owner, now + options.leaseMs, id, now).changes === 0) continue;
    const row = load.get(id);
    if (!row) continue;
    const payload = row.payload ?? joinedEventJson(row);
    if (payload === null) {
      failMissingEvent(db, id, now);
      continue;
    }
    claimed.push(claimedFrom(row, endpoint, payload, options.owner));
  }
  return claimed;
}

/** The first id of every queue, then the second of every queue, and so on. */
function* roundRobin(
  queues: ReadonlyArray<{ endpoint: EndpointRecord; ids: readonly string[] }>,
): Generator<{ endpoint: EndpointRecord; id: string }> {
  for (let rank = 0; ; rank++) {
    let any = false;
    for (const { endpoint, ids } of queues) {
      const id = ids[rank];
      if (id === undefined) continue;
      any = true;
      yield { endpoint, id };
    }
    if (!any) return;
  }
}

function failMissingEvent(db: Database.Database, id: string, now: number): void {
  db.prepare(
    `UPDATE deliveries SET status = 'failed', last_error = 'event no longer stored', next_attempt_at = NULL,
       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, completed_at = ? WHERE id = ?`,
  ).run(now, now, id);
}

/** Gives claimed deliveries back unattempted (endpoint at its limit), due again at `notBefore`. */
export function release(
  db: Database.Database,
  items: Array<{ id: string; owner: string; notBefore: Date }>,
): void {
  const stmt = db.prepare(
    `UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ?
     WHERE id = ? AND lease_owner = ? AND status = 'pending'`,
  );
  for (const item of items) stmt.run(item.notBefore.getTime(), item.id, item.owner);
}

/**
 * Applies attempt outcomes. The delivery update is fenced on the lease owner: a worker whose lease
 * was taken over cannot overwrite the new owner's result (its attempt is still logged). Health
 * alerts are decided here (src/delivery/health-alerts.ts), on counters this transaction reads and
 * writes, so each failing/recovered is raised once.
 */
export function applyAttempts(
  db: Database.Database,
  results: AttemptResult[],
  now: Date,
  options: RecordOptions = DEFAULT_RECORD_OPTIONS,
): EndpointTransition[] {
  const insertAttempt = db.prepare(
    `INSERT INTO attempts (id, delivery_id, endpoint_id, attempt, started_at, duration_ms, ok, http_status,
       error_class, error, response_snippet)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const updateDelivery = db.prepare(
    `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL,
       lease_expires_at = NULL, last_status = ?, last_error = ?, updated_at = ?, completed_at = ?
     WHERE id = ? AND lease_owner = ? AND status = 'pending'`,
  );
  const alertRow = db.prepare<[string], EndpointAlertRow>(
    `SELECT consecutive_failures, alert_state, alert_changed_at, success_streak, success_streak_started_at
     FROM endpoints WHERE id = ?`,
  );
  const eventOf = db.prepare<[string], { event_id: string }>('SELECT event_id FROM deliveries WHERE id = ?');
  const success = db.prepare(
    `UPDATE endpoints SET consecutive_failures = 0, first_failure_at = NULL, last_success_at = ?,
       success_streak = ?, success_streak_started_at = ?, alert_state = ?, alert_changed_at = ?
     WHERE id = ?`,
  );
  const failure = db.prepare(
    `UPDATE endpoints SET consecutive_failures = ?, first_failure_at = COALESCE(first_failure_at, ?),
       last_failure_at = ?, success_streak = 0, success_streak_started_at = NULL, alert_state = ?,
       alert_changed_at = ?
     WHERE id = ?`,
  );
  const disable = db.prepare(
    `UPDATE endpoints SET status = 'disabled', status_reason = ?, updated_at = ? WHERE id = ? AND status <> 'disabled'`,
  );
  const nowMs = now.getTime();
  const policy = alertPolicy(options);
  const transitions: EndpointTransition[] = [];
  for (const result of results) {
    const a = result.attempt;
    insertAttempt.run(
      a.id,
      a.deliveryId,
      a.endpointId,
      a.attempt,
      a.startedAt.getTime(),
      Math.round(a.durationMs),
      a.ok ? 1 : 0,
      a.httpStatus,
      a.errorClass,
      a.error,
      a.responseSnippet,
    );
    const final = result.status !== 'pending';
    const fenced = updateDelivery.run(
      result.status,
      msOrNull(result.nextAttemptAt),
      a.httpStatus,
      a.ok ? null : (a.error ?? a.errorClass ?? `HTTP ${a.httpStatus}`),
      nowMs,
      final ? nowMs : null,
      a.deliveryId,
      result.leaseOwner,
    );
    if (fenced.changes === 0) continue;
    const row = alertRow.get(a.endpointId);
    // Endpoints are deleted softly, so the row is there; were it not, there would be nothing to alert.
    if (!row) continue;
    const decision = decideAlert(alertCountersFrom(row), a, now, policy);
    const next = decision.counters;
    const eventId = eventOf.get(a.deliveryId)?.event_id ?? '';
    const transition = (kind: EndpointTransition['kind'], reason: string | null) =>
      transitions.push({
        kind,
        endpointId: a.endpointId,
        deliveryId: a.deliveryId,
        eventId,
        consecutiveFailures: next.consecutiveFailures,
        reason,
        at: now,
      });
    const at = a.startedAt.getTime();
    const alert = [next.state, msOrNull(next.changedAt), a.endpointId] as const;
    if (a.ok) success.run(at, next.successStreak, msOrNull(next.streakStartedAt), ...alert);
    else failure.run(next.consecutiveFailures, at, at, ...alert);
    if (decision.raise === 'failing') transition('failing', a.error ?? a.errorClass);
    if (decision.raise === 'recovered') transition('recovered', null);
    if (!a.ok && result.status === 'failed') transition('exhausted', a.error);
    if (result.disableEndpoint && disable.run(result.disableEndpoint, nowMs, a.endpointId).changes > 0) {
      transition('disabled', result.disableEndpoint);
    }
  }
  return transitions;
}

export function selectDelivery(db: Database.Database, id: string): DeliveryRecord | null {
  const row = db.prepare<[string], DeliveryRow>('SELECT * FROM deliveries WHERE id = ?').get(id);
  return row ? deliveryFrom(row) : null;
}

export function selectDeliveries(db: Database.Database, query: DeliveryQuery): Page<DeliveryRecord, string> {
  const filters = new Filters()
    .add('endpoint_id = ?', query.endpointId)
    .add('event_id = ?', query.eventId)
    .add('status = ?', query.status)
    .add('id < ?', query.cursor);
  const rows = db
    .prepare<unknown[], DeliveryRow>(`SELECT * FROM deliveries ${filters.where} ORDER BY id DESC LIMIT ?`)
    .all(...filters.params, query.limit + 1)
    .map(deliveryFrom);
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return { items, next: rows.length > query.limit && last ? last.id : null };
}

export function selectAttempts(db: Database.Database, deliveryId: string): AttemptRecord[] {
  return db
    .prepare<[string], AttemptRow>(
      'SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempt, started_at',
    )
    .all(deliveryId)
    .map(attemptFrom);
}

export function selectAttemptSamples(
  db: Database.Database,
  endpointId: string,
  since: Date,
): AttemptSample[] {
  return db
    .prepare<[string, number], { started_at: number; ok: number; duration_ms: number }>(
      'SELECT started_at, ok, duration_ms FROM attempts WHERE endpoint_id = ? AND started_at >= ?',
    )
    .all(endpointId, since.getTime())
    .map((r) => ({ at: new Date(r.started_at), ok: r.ok === 1, durationMs: r.duration_ms }));
}

/** Makes a delivery due now, whatever its state; attempts keep counting. */
export function retryNow(db: Database.Database, id: string, now: Date): RetryResult {
  const t = now.getTime();
  const result = db
    .prepare(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
         completed_at = NULL, updated_at = ?
       WHERE id = ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
         AND endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NULL)`,
    )
    .run(t, t, id, t);
  if (result.changes > 0) return selectDelivery(db, id) ?? 'not_found';
  const row = db
    .prepare<[string], RetryRefusal>(
      `SELECT e.deleted_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
       WHERE d.id = ?`,
    )
    .get(id);
  return whyNotRetried(row);
}

export function insertReplay(db: Database.Database, r: ReplayRecord): void {
  db.prepare(
    `INSERT INTO replays (id, endpoint_id, since, until, types, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'running', ?, ?)`,
  ).run(
    r.id,
    r.endpointId,
    r.since.getTime(),
    r.until.getTime(),
    JSON.stringify(r.types),
    r.createdAt.getTime(),
    r.updatedAt.getTime(),
  );
}

export function selectReplay(db: Database.Database, id: string): ReplayRecord | null {
  const row = db.prepare<[string], ReplayRow>('SELECT * FROM replays WHERE id = ?').get(id);
  return row ? replayFrom(row) : null;
}

export function runningReplayIds(db: Database.Database): string[] {
  return db
    .prepare<[], { id: string }>("SELECT id FROM replays WHERE status = 'running' ORDER BY created_at")
    .all()
    .map((r) => r.id);
}

/**
 * Advances a running replay by one page of events in its range (oldest first): the selected ones get
 * a delivery unless one is already pending for that event and endpoint (so a replay repeated while the
 * first still runs sends nothing twice).
 */
export function advance(
  db: Database.Database,
  id: string,
  pageSize: number,
  select: ReplaySelect,
  now: Date,
): ReplayRecord | null {
  const row = db
    .prepare<[string], ReplayRow>("SELECT * FROM replays WHERE id = ? AND status = 'running'")
    .get(id);
  if (!row) return selectReplay(db, id);
  const endpoint = selectEndpoint(db, row.endpoint_id);
  const nowMs = now.getTime();
  if (!endpoint) {
    db.prepare("UPDATE replays SET status = 'done', updated_at = ?, finished_at = ? WHERE id = ?").run(
      nowMs,
      nowMs,
      id,
    );
    return selectReplay(db, id);
  }
  const [afterTime, afterId] = row.cursor ? (JSON.parse(row.cursor) as [number, string]) : [row.since, ''];
  const events = db
    .prepare<[number, Buffer | string, number, number], EventBodyRow>(
      // A row value, so the page is a seek on events_time (occurred_at) that sorts only the events
      // sharing an occurred_at by id: the OR form made SQLite sort the whole rest of the range for
      // every page.
      `SELECT ${eventColumns()} FROM events
       WHERE (occurred_at, id) > (?, ?) AND occurred_at < ?
       ORDER BY occurred_at, id LIMIT ?`,
    )
    .all(afterTime, idBytes(afterId, 'evt'), row.until, pageSize);
  const chosen = select(events.map(eventFromRow), endpoint, JSON.parse(row.types) as string[]);
  const hasPending = db.prepare<[string, string], { id: string }>(
    "SELECT id FROM deliveries WHERE event_id = ? AND endpoint_id = ? AND status = 'pending' LIMIT 1",
  );
  const fresh = chosen.filter((event) => !hasPending.get(event.id, endpoint.id));
  const enqueued = insertDeliveries(
    db,
    fresh.map((event) => ({
      id: newId('delivery'),
      eventId: event.id,
      endpointId: endpoint.id,
      origin: 'replay',
      dedupe: `replay:${id}`,
      nextAttemptAt: now,
    })),
    now,
  );
  const last = events.at(-1);
  const done = events.length < pageSize;
  db.prepare(
    `UPDATE replays SET scanned = scanned + ?, enqueued = enqueued + ?, skipped = skipped + ?, cursor = ?,
       status = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
  ).run(
    events.length,
    enqueued,
    events.length - enqueued,
    last ? JSON.stringify([last.occurred_at, idText(last.id, 'evt')]) : row.cursor,
    done ? 'done' : 'running',
    nowMs,
    done ? nowMs : null,
    id,
  );
  return selectReplay(db, id);
}
