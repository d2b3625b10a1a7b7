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
  EndpointAlertCounters,
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
import {
  type EventBodyRow,
  eventBodyColumns,
  eventFromRow,
  joinedEventColumns,
  joinedEventJson,
} from '../event-body.js';
import type { HandedDeliveries } from '../hand-off.js';
import type { AttemptSample, Page } from '../store.js';
import { arrayColumns, INT4, parameterChunks, type Queryable, TEXT, type Tx } from './connection.js';

/** The delivery half of the PostgreSQL store; same semantics as src/store/sqlite/delivery-store.ts. */

export async function insertEndpoint(sql: Queryable, e: EndpointRecord): Promise<void> {
  await sql`
    INSERT INTO endpoints (id, url, description, event_types, filter, headers, secrets, status, status_reason,
      rate_limit, max_concurrency, created_at, updated_at)
    VALUES (${e.id}, ${e.url}, ${e.description}, ${JSON.stringify(e.eventTypes)},
      ${e.filter === null ? null : JSON.stringify(e.filter)}, ${JSON.stringify(e.headers)}, ${secretsToJson(e.secrets)},
      ${e.status}, ${e.statusReason}, ${e.rateLimit}, ${e.maxConcurrency}, ${e.createdAt.getTime()}, ${e.updatedAt.getTime()})`;
}

export async function selectEndpoint(sql: Queryable, id: string): Promise<EndpointRecord | null> {
  const [row] = await sql<EndpointRow[]>`SELECT * FROM endpoints WHERE id = ${id} AND deleted_at IS NULL`;
  return row ? endpointFrom(row) : null;
}

export async function selectEndpoints(
  sql: Queryable,
  options: { routable?: boolean } = {},
): Promise<EndpointRecord[]> {
  const rows = options.routable
    ? await sql<
        EndpointRow[]
      >`SELECT * FROM endpoints WHERE deleted_at IS NULL AND status <> 'disabled' ORDER BY id`
    : await sql<EndpointRow[]>`SELECT * FROM endpoints WHERE deleted_at IS NULL ORDER BY id`;
  return rows.map(endpointFrom);
}

export async function patchEndpoint(
  tx: Tx,
  id: string,
  patch: EndpointPatch,
  now: Date,
): Promise<EndpointRecord | null> {
  const [row] = await tx<
    EndpointRow[]
  >`SELECT * FROM endpoints WHERE id = ${id} AND deleted_at IS NULL FOR UPDATE`;
  if (!row) return null;
  const current = endpointFrom(row);
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
  await tx`
    UPDATE endpoints SET url = ${next.url}, description = ${next.description}, event_types = ${JSON.stringify(next.eventTypes)},
      filter = ${next.filter === null ? null : JSON.stringify(next.filter)}, headers = ${JSON.stringify(next.headers)},
      secrets = ${secretsToJson(next.secrets)}, status = ${next.status}, status_reason = ${next.statusReason},
      rate_limit = ${next.rateLimit}, max_concurrency = ${next.maxConcurrency},
      consecutive_failures = ${next.consecutiveFailures}, first_failure_at = ${msOrNull(next.firstFailureAt)},
      updated_at = ${now.getTime()}
    WHERE id = ${id}`;
  return next;
}

export async function softDeleteEndpoint(tx: Tx, id: string, now: Date): Promise<boolean> {
  const t = now.getTime();
  const result = await tx`
    UPDATE endpoints SET deleted_at = ${t}, status = 'disabled', status_reason = 'deleted'
    WHERE id = ${id} AND deleted_at IS NULL`;
  if (result.count === 0) return false;
  await tx`
    UPDATE deliveries SET status = 'failed', last_error = 'endpoint deleted', next_attempt_at = NULL,
      lease_owner = NULL, lease_expires_at = NULL, updated_at = ${t}, completed_at = ${t}
    WHERE endpoint_id = ${id} AND status = 'pending'`;
  return true;
}

/**
 * Inserts deliveries, skipping any that already exist (same event, endpoint and dedupe); returns how
 * many. Those in `handed` were leased at creation to this node's worker (hand-off.ts) and carry it.
 */
export async function insertDeliveries(
  sql: Queryable,
  deliveries: NewDelivery[],
  now: Date,
  handed: HandedDeliveries | null = null,
): Promise<number> {
  if (deliveries.length === 0) return 0;
  const t = now.getTime();
  const values = deliveries.map((d) => {
    const lease = handed?.leaseOf(d.id) ?? null;
    return {
      id: d.id,
      event_id: d.eventId,
      endpoint_id: d.endpointId,
      dedupe: d.dedupe,
      origin: d.origin,
      payload: d.payload ?? null,
      status: 'pending',
      next_attempt_at: d.nextAttemptAt.getTime(),
      lease_owner: lease?.owner ?? null,
      lease_expires_at: lease?.expiresAt ?? null,
      created_at: t,
      updated_at: t,
      trace: d.trace ?? null,
    };
  });
  let inserted = 0;
  for (const chunk of parameterChunks(values)) {
    const result = await sql`
      INSERT INTO deliveries ${sql(chunk)} ON CONFLICT (event_id, endpoint_id, dedupe) DO NOTHING`;
    inserted += result.count;
  }
  return inserted;
}

interface ClaimRow extends DeliveryRow {
  payload: string | null;
}

/**
 * Claims due deliveries (FairClaimOptions) in two statements: the active endpoints with due, unleased
 * deliveries (one probe each on deliveries_endpoint_due) go to `plan`; then one statement takes at
 * most `slots(endpoint)` of each, oldest due first, FOR UPDATE SKIP LOCKED so concurrent nodes never
 * take the same row, round-robin across the endpoints (in random order) until `limit`, and leases them.
 */
export async function claimDue(tx: Tx, options: FairClaimOptions): Promise<ClaimedDelivery[]> {
  const now = options.now.getTime();
  if (options.limit <= 0) return [];
  const rows = await tx<EndpointRow[]>`
    SELECT e.* FROM endpoints e
    WHERE e.deleted_at IS NULL AND e.status = 'active'
      AND EXISTS (SELECT 1 FROM deliveries d
        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= ${now}
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at < ${now}))`;
  const due = shuffle(rows.map(endpointFrom));
  options.plan?.(due);
  const quotas = due
    .map((endpoint) => ({ endpoint, slots: Math.min(options.limit, options.slots(endpoint)) }))
    .filter((q) => q.slots > 0);
  if (quotas.length === 0) return [];
  const byId = new Map(quotas.map((q) => [q.endpoint.id, q.endpoint]));
  const ids = tx.array(
    quotas.map((q) => q.endpoint.id),
    TEXT,
  );
  const counts = tx.array(
    quotas.map((q) => q.slots),
    INT4,
  );
  const leased = await tx<ClaimRow[]>`
    WITH quota AS (
      SELECT * FROM unnest(${ids}::text[], ${counts}::int[]) WITH ORDINALITY AS q (endpoint_id, slots, turn)
    ), candidate AS (
      SELECT c.id, q.turn, row_number() OVER (PARTITION BY q.endpoint_id ORDER BY c.next_attempt_at, c.id) AS rank
      FROM quota q CROSS JOIN LATERAL (
        SELECT id, next_attempt_at FROM deliveries
        WHERE endpoint_id = q.endpoint_id AND status = 'pending' AND next_attempt_at <= ${now}
          AND (lease_expires_at IS NULL OR lease_expires_at < ${now})
        ORDER BY next_attempt_at LIMIT q.slots
        FOR UPDATE SKIP LOCKED
      ) c
    ), picked AS (
      SELECT id FROM candidate ORDER BY rank, turn LIMIT ${options.limit}
    ), leased AS (
      UPDATE deliveries d SET lease_owner = ${options.owner}, lease_expires_at = ${now + options.leaseMs}
      FROM picked WHERE d.id = picked.id
      RETURNING d.*
    )
    SELECT l.*, ${tx.unsafe(joinedEventColumns('e'))} FROM leased l LEFT JOIN events e ON e.id = l.event_id`;
  const claimed: ClaimedDelivery[] = [];
  for (const row of leased) {
    const payload = row.payload ?? joinedEventJson(row);
    if (payload === null) {
      await tx`
        UPDATE deliveries SET status = 'failed', last_error = 'event no longer stored', next_attempt_at = NULL,
          lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}, completed_at = ${now}
        WHERE id = ${row.id}`;
      continue;
    }
    const endpoint = byId.get(row.endpoint_id) as EndpointRecord;
    claimed.push(claimedFrom(row, endpoint, payload, options.owner));
  }
  return claimed;
}

export async function release(
  sql: Queryable,
  items: Array<{ id: string; owner: string; notBefore: Date }>,
): Promise<void> {
  for (const item of items) {
    await sql`
      UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ${item.notBefore.getTime()}
      WHERE id = ${item.id} AND lease_owner = ${item.owner} AND status = 'pending'`;
  }
}

/**
 * Same fencing and transitions as SQLite: only the current lease owner's result changes anything.
 * The batch's endpoints are locked first, in id order: each alert is decided on the row as the last
 * committed attempt left it (so two nodes never both raise one transition), and two nodes recording
 * attempts of the same endpoints in different orders wait for each other instead of deadlocking.
 *
 * A batch costs four statements whatever its size (the endpoints locked, the attempts inserted, the
 * deliveries updated, the endpoints' counters written), plus one per endpoint to disable: with a
 * round trip per attempt, recording fell behind sending and a node killed under load left every
 * attempt not yet recorded to be sent again (issue 16).
 */
export async function applyAttempts(
  tx: Tx,
  results: AttemptResult[],
  now: Date,
  options: RecordOptions = { failingAfter: 5 },
): Promise<EndpointTransition[]> {
  if (results.length === 0) return [];
  // One result per delivery is the rule (a delivery is attempted again only once its result is
  // recorded); were one repeated, each of its results must see what the one before it wrote.
  const ids = new Set(results.map((r) => r.attempt.deliveryId));
  if (ids.size < results.length) {
    const transitions: EndpointTransition[] = [];
    for (const result of results) transitions.push(...(await applyAttempts(tx, [result], now, options)));
    return transitions;
  }
  const t = now.getTime();
  const policy = alertPolicy(options);
  const endpointIds = [...new Set(results.map((r) => r.attempt.endpointId))].sort();
  const rows = await tx<(EndpointAlertRow & { id: string; first_failure_at: number | null })[]>`
    SELECT id, consecutive_failures, alert_state, alert_changed_at, success_streak, success_streak_started_at,
      first_failure_at
    FROM endpoints WHERE id IN ${tx(endpointIds)} ORDER BY id FOR UPDATE`;
  const endpoints = new Map(rows.map((row) => [row.id, endpointTally(row)]));
  await insertAttempts(tx, results);
  const delivered = await finishDeliveries(tx, results, t);
  const transitions: EndpointTransition[] = [];
  for (const result of results) {
    const a = result.attempt;
    const eventId = delivered.get(a.deliveryId);
    if (eventId === undefined) continue;
    const tally = endpoints.get(a.endpointId);
    // Endpoints are deleted softly, so the row is there; were it not, there would be nothing to alert.
    if (!tally) continue;
    const decision = decideAlert(tally.counters, a, now, policy);
    const next = decision.counters;
    tally.counters = next;
    tally.touched = true;
    const at = a.startedAt.getTime();
    if (a.ok) {
      tally.lastSuccessAt = at;
      tally.firstFailureAt = null;
    } else {
      tally.lastFailureAt = at;
      tally.firstFailureAt ??= at;
    }
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
    if (decision.raise === 'failing') transition('failing', a.error ?? a.errorClass);
    if (decision.raise === 'recovered') transition('recovered', null);
    if (!a.ok && result.status === 'failed') transition('exhausted', a.error);
    if (result.disableEndpoint) {
      const disabled = await tx`
        UPDATE endpoints SET status = 'disabled', status_reason = ${result.disableEndpoint}, updated_at = ${t}
        WHERE id = ${a.endpointId} AND status <> 'disabled'`;
      if (disabled.count > 0) transition('disabled', result.disableEndpoint);
    }
  }
  await writeEndpointTallies(tx, endpoints);
  return transitions;
}

/** An endpoint's health columns as a batch of attempts leaves them, applied one attempt at a time. */
interface EndpointTally {
  counters: EndpointAlertCounters;
  firstFailureAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  touched: boolean;
}

function endpointTally(row: EndpointAlertRow & { first_failure_at: number | null }): EndpointTally {
  return {
    counters: alertCountersFrom(row),
    firstFailureAt: row.first_failure_at,
    lastSuccessAt: null,
    lastFailureAt: null,
    touched: false,
  };
}

async function insertAttempts(tx: Tx, results: AttemptResult[]): Promise<void> {
  const { text, int, ms } = arrayColumns(
    tx,
    results.map((r) => r.attempt),
  );
  await tx`
    INSERT INTO attempts (id, delivery_id, endpoint_id, attempt, started_at, duration_ms, ok, http_status,
      error_class, error, response_snippet)
    SELECT * FROM unnest(${text((a) => a.id)}::text[], ${text((a) => a.deliveryId)}::text[],
      ${text((a) => a.endpointId)}::text[], ${int((a) => a.attempt)}::int[],
      ${ms((a) => a.startedAt.getTime())}::bigint[], ${int((a) => Math.round(a.durationMs))}::int[],
      ${int((a) => (a.ok ? 1 : 0))}::int[], ${int((a) => a.httpStatus)}::int[],
      ${text((a) => a.errorClass)}::text[], ${text((a) => a.error)}::text[],
      ${text((a) => a.responseSnippet)}::text[])`;
}

/** Applies each result to its delivery if this node still holds its lease; the event id of each one applied. */
async function finishDeliveries(tx: Tx, results: AttemptResult[], t: number): Promise<Map<string, string>> {
  const { text, int, ms } = arrayColumns(tx, results);
  const rows = await tx<{ id: string; event_id: string }[]>`
    UPDATE deliveries AS d SET status = r.status, attempts = d.attempts + 1, next_attempt_at = r.next_attempt_at,
      lease_owner = NULL, lease_expires_at = NULL, last_status = r.last_status, last_error = r.last_error,
      updated_at = ${t}, completed_at = r.completed_at
    FROM unnest(${text((r) => r.attempt.deliveryId)}::text[], ${text((r) => r.leaseOwner)}::text[],
      ${text((r) => r.status)}::text[], ${ms((r) => r.nextAttemptAt?.getTime() ?? null)}::bigint[],
      ${int((r) => r.attempt.httpStatus)}::int[], ${text((r) => lastErrorOf(r.attempt))}::text[],
      ${ms((r) => (r.status !== 'pending' ? t : null))}::bigint[])
      AS r (id, lease_owner, status, next_attempt_at, last_status, last_error, completed_at)
    WHERE d.id = r.id AND d.lease_owner = r.lease_owner AND d.status = 'pending'
    RETURNING d.id, d.event_id`;
  return new Map(rows.map((row) => [row.id, row.event_id]));
}

function lastErrorOf(a: AttemptRecord): string | null {
  return a.ok ? null : (a.error ?? a.errorClass ?? `HTTP ${a.httpStatus}`);
}

/** One statement for every endpoint the batch's applied attempts concern. */
async function writeEndpointTallies(tx: Tx, endpoints: Map<string, EndpointTally>): Promise<void> {
  const touched = [...endpoints].filter(([, tally]) => tally.touched);
  if (touched.length === 0) return;
  const { text, int, ms } = arrayColumns(tx, touched);
  await tx`
    UPDATE endpoints AS e SET consecutive_failures = v.consecutive_failures,
      first_failure_at = v.first_failure_at,
      last_success_at = COALESCE(v.last_success_at, e.last_success_at),
      last_failure_at = COALESCE(v.last_failure_at, e.last_failure_at),
      success_streak = v.success_streak, success_streak_started_at = v.success_streak_started_at,
      alert_state = v.alert_state, alert_changed_at = v.alert_changed_at
    FROM unnest(${text(([id]) => id)}::text[], ${int(([, tally]) => tally.counters.consecutiveFailures)}::int[],
      ${ms(([, tally]) => tally.firstFailureAt)}::bigint[], ${ms(([, tally]) => tally.lastSuccessAt)}::bigint[],
      ${ms(([, tally]) => tally.lastFailureAt)}::bigint[], ${int(([, tally]) => tally.counters.successStreak)}::int[],
      ${ms(([, tally]) => tally.counters.streakStartedAt?.getTime() ?? null)}::bigint[],
      ${text(([, tally]) => tally.counters.state)}::text[],
      ${ms(([, tally]) => tally.counters.changedAt?.getTime() ?? null)}::bigint[])
      AS v (id, consecutive_failures, first_failure_at, last_success_at, last_failure_at, success_streak,
        success_streak_started_at, alert_state, alert_changed_at)
    WHERE e.id = v.id`;
}

export async function selectDelivery(sql: Queryable, id: string): Promise<DeliveryRecord | null> {
  const [row] = await sql<DeliveryRow[]>`SELECT * FROM deliveries WHERE id = ${id}`;
  return row ? deliveryFrom(row) : null;
}

export async function selectDeliveries(
  sql: Queryable,
  query: DeliveryQuery,
): Promise<Page<DeliveryRecord, string>> {
  const rows = (
    await sql<DeliveryRow[]>`
      SELECT * FROM deliveries WHERE TRUE
        ${query.endpointId ? sql`AND endpoint_id = ${query.endpointId}` : sql``}
        ${query.eventId ? sql`AND event_id = ${query.eventId}` : sql``}
        ${query.status ? sql`AND status = ${query.status}` : sql``}
        ${query.cursor ? sql`AND id < ${query.cursor}` : sql``}
      ORDER BY id DESC LIMIT ${query.limit + 1}`
  ).map(deliveryFrom);
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return { items, next: rows.length > query.limit && last ? last.id : null };
}

export async function selectAttempts(sql: Queryable, deliveryId: string): Promise<AttemptRecord[]> {
  const rows = await sql<AttemptRow[]>`
    SELECT * FROM attempts WHERE delivery_id = ${deliveryId} ORDER BY attempt, started_at`;
  return rows.map(attemptFrom);
}

export async function selectAttemptSamples(
  sql: Queryable,
  endpointId: string,
  since: Date,
): Promise<AttemptSample[]> {
  const rows = await sql<{ started_at: number; ok: number; duration_ms: number }[]>`
    SELECT started_at, ok, duration_ms FROM attempts WHERE endpoint_id = ${endpointId} AND started_at >= ${since.getTime()}`;
  return rows.map((r) => ({ at: new Date(r.started_at), ok: r.ok === 1, durationMs: r.duration_ms }));
}

export async function retryNow(sql: Queryable, id: string, now: Date): Promise<RetryResult> {
  const t = now.getTime();
  const [row] = await sql<DeliveryRow[]>`
    UPDATE deliveries SET status = 'pending', next_attempt_at = ${t}, lease_owner = NULL, lease_expires_at = NULL,
      completed_at = NULL, updated_at = ${t}
    WHERE id = ${id} AND (lease_expires_at IS NULL OR lease_expires_at <= ${t})
      AND endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NULL)
    RETURNING *`;
  if (row) return deliveryFrom(row);
  const [refusal] = await sql<RetryRefusal[]>`
    SELECT e.deleted_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.id = ${id}`;
  return whyNotRetried(refusal);
}

export async function insertReplay(sql: Queryable, r: ReplayRecord): Promise<void> {
  await sql`
    INSERT INTO replays (id, endpoint_id, since, until, types, status, created_at, updated_at)
    VALUES (${r.id}, ${r.endpointId}, ${r.since.getTime()}, ${r.until.getTime()}, ${JSON.stringify(r.types)}, 'running',
      ${r.createdAt.getTime()}, ${r.updatedAt.getTime()})`;
}

export async function selectReplay(sql: Queryable, id: string): Promise<ReplayRecord | null> {
  const [row] = await sql<ReplayRow[]>`SELECT * FROM replays WHERE id = ${id}`;
  return row ? replayFrom(row) : null;
}

export async function runningReplayIds(sql: Queryable): Promise<string[]> {
  const rows = await sql<
    { id: string }[]
  >`SELECT id FROM replays WHERE status = 'running' ORDER BY created_at`;
  return rows.map((r) => r.id);
}

/** One page of a replay, in one transaction; the replay row is locked so two nodes never advance it together. */
export async function advance(
  tx: Tx,
  id: string,
  pageSize: number,
  select: ReplaySelect,
  now: Date,
): Promise<ReplayRecord | null> {
  const t = now.getTime();
  const [row] = await tx<
    ReplayRow[]
  >`SELECT * FROM replays WHERE id = ${id} AND status = 'running' FOR UPDATE SKIP LOCKED`;
  if (!row) return selectReplay(tx, id);
  const endpoint = await selectEndpoint(tx, row.endpoint_id);
  if (!endpoint) {
    await tx`UPDATE replays SET status = 'done', updated_at = ${t}, finished_at = ${t} WHERE id = ${id}`;
    return selectReplay(tx, id);
  }
  const [afterTime, afterId] = row.cursor ? (JSON.parse(row.cursor) as [number, string]) : [row.since, ''];
  const events = await tx<EventBodyRow[]>`
    SELECT ${tx.unsafe(eventBodyColumns())} FROM events
    WHERE (occurred_at, id) > (${afterTime}, ${afterId}) AND occurred_at < ${row.until}
    ORDER BY occurred_at, id LIMIT ${pageSize}`;
  const chosen = select(events.map(eventFromRow), endpoint, JSON.parse(row.types) as string[]);
  let fresh = chosen;
  if (chosen.length > 0) {
    const pending = await tx<{ event_id: string }[]>`
      SELECT event_id FROM deliveries
      WHERE endpoint_id = ${endpoint.id} AND status = 'pending' AND event_id IN ${tx(chosen.map((e) => e.id))}`;
    const busy = new Set(pending.map((p) => p.event_id));
    fresh = chosen.filter((event) => !busy.has(event.id));
  }
  const enqueued = await insertDeliveries(
    tx,
    fresh.map((event) => ({
      id: newId('delivery'),
      eventId: event.id,
      endpointId: endpoint.id,
      origin: 'replay' as const,
      dedupe: `replay:${id}`,
      nextAttemptAt: now,
    })),
    now,
  );
  const last = events.at(-1);
  const done = events.length < pageSize;
  await tx`
    UPDATE replays SET scanned = scanned + ${events.length}, enqueued = enqueued + ${enqueued},
      skipped = skipped + ${events.length - enqueued},
      cursor = ${last ? JSON.stringify([last.occurred_at, last.id]) : row.cursor},
      status = ${done ? 'done' : 'running'}, updated_at = ${t}, finished_at = ${done ? t : null}
    WHERE id = ${id}`;
  return selectReplay(tx, id);
}
