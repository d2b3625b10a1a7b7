import type { CanonicalEvent } from '../../events.js';
import type {
  AttemptRecord,
  AttemptResult,
  ClaimedDelivery,
  DeliveryQuery,
  DeliveryRecord,
  EndpointPatch,
  EndpointRecord,
  EndpointTransition,
  NewDelivery,
  RecordOptions,
  ReplayRecord,
  ReplaySelect,
} from '../delivery-types.js';
import {
  type EventBodyRow,
  eventBodyColumns,
  eventColumnsButBody,
  eventFromRow,
  eventJson,
  joinedEventColumns,
} from '../event-body.js';
import { feedPage, scanLimit } from '../event-feed.js';
import { countInboxSql, inboxCountsFrom, inboxStatusIs } from '../inbox-status.js';
import { loadMigrations } from '../migrations.js';
import type { CreateReconcileResult, ReconcileJob, ReconcileProgress } from '../reconcile-types.js';
import type { PrunedTable, RetentionCutoffs } from '../retention.js';
import { type InboxDbRow, inboxRowFrom, revocationOf, type SourceRow, sourceFrom } from '../rows.js';
import type {
  ApiKeyRecord,
  AppendResult,
  AttemptSample,
  BatchSummary,
  EventCursor,
  EventEffects,
  EventFeed,
  EventFilter,
  EventPosition,
  EventQuery,
  FairClaimOptions,
  FeedOptions,
  FeedStart,
  HourBucket,
  InboxCounts,
  InboxInsert,
  InboxQuery,
  InboxRow,
  InlineProcessing,
  OperationalCounts,
  Page,
  PublishedEvent,
  RequeueSelector,
  RetryResult,
  RevokeResult,
  RowOutcome,
  SourcePatch,
  SourceRecord,
  StatsQuery,
  StatsRow,
  Store,
  SuppressionEntry,
  SuppressionQuery,
} from '../store.js';
import { idText } from '../stored-id.js';
import { connect, type PostgresOptions, type Queryable, type Sql } from './connection.js';
import { processInboxBatch, publishEventBatch } from './event-writer.js';
import { appendInboxRows } from './inbox-append.js';
import * as delivery from './postgres-delivery.js';
import * as insights from './postgres-insights.js';
import * as reconciliations from './reconciliations.js';
import * as retention from './retention.js';
import { snapshotXmax } from './snapshot.js';

const SOURCE_COLUMNS =
  'id, name, provider, config, enabled::int AS enabled, state::text AS state, created_at, updated_at';

/**
 * The PostgreSQL store: the same contract as SQLite, for production and for several mailhook nodes
 * on one database. Work is claimed with FOR UPDATE SKIP LOCKED (inbox rows inside the processing
 * transaction itself, deliveries under leases), so any node can die without losing or
 * double-finishing work.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly capabilities = { singleNode: false, blockingWrites: false, oneWriter: false };
  readonly sql: Sql;
  private readonly schema: string;

  constructor(options: PostgresOptions) {
    this.schema = options.schema ?? 'public';
    this.sql = connect(options);
  }

  async migrate(): Promise<number[]> {
    const sql = this.sql;
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql(this.schema)}`;
    return sql.begin(async (tx) => {
      // Several nodes starting at once: one migrates, the others wait and then find nothing to do.
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`mailhook:migrate:${this.schema}`}))`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
      const done = new Set(
        (await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) => r.version),
      );
      const applied: number[] = [];
      for (const migration of loadMigrations('postgres')) {
        if (done.has(migration.version)) continue;
        await tx.unsafe(migration.sql);
        await tx`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${migration.version}, ${migration.name}, ${Date.now()})`;
        applied.push(migration.version);
      }
      return applied;
    }) as Promise<number[]>;
  }

  async ping(): Promise<void> {
    await this.sql`SELECT 1`;
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }

  async createSource(s: SourceRecord): Promise<void> {
    await this.sql`
      INSERT INTO sources (id, name, provider, config, enabled, state, created_at, updated_at)
      VALUES (${s.id}, ${s.name}, ${s.provider}, ${JSON.stringify(s.config)}, ${s.enabled},
              ${this.sql.json(s.state as never)}, ${s.createdAt.getTime()}, ${s.updatedAt.getTime()})`;
  }

  async getSource(id: string): Promise<SourceRecord | null> {
    const [row] = await this.sql.unsafe<SourceRow[]>(
      `SELECT ${SOURCE_COLUMNS} FROM sources WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return row ? sourceFrom(row) : null;
  }

  async listSources(): Promise<SourceRecord[]> {
    const rows = await this.sql.unsafe<SourceRow[]>(
      `SELECT ${SOURCE_COLUMNS} FROM sources WHERE deleted_at IS NULL ORDER BY id`,
    );
    return rows.map(sourceFrom);
  }

  async updateSource(id: string, patch: SourcePatch, now: Date): Promise<SourceRecord | null> {
    const result = await this.sql`
      UPDATE sources SET
        name = COALESCE(${patch.name ?? null}, name),
        config = COALESCE(${patch.config ? JSON.stringify(patch.config) : null}, config),
        enabled = COALESCE(${patch.enabled ?? null}::boolean, enabled),
        updated_at = ${now.getTime()}
      WHERE id = ${id} AND deleted_at IS NULL`;
    return result.count === 0 ? null : this.getSource(id);
  }

  async updateSourceState(id: string, state: Record<string, unknown>, now: Date): Promise<void> {
    const sql = this.sql;
    await sql`UPDATE sources SET state = state || ${sql.json(state as never)}, updated_at = ${now.getTime()} WHERE id = ${id}`;
  }

  async deleteSource(id: string, now: Date): Promise<boolean> {
    const result = await this.sql`
      UPDATE sources SET deleted_at = ${now.getTime()}, enabled = FALSE WHERE id = ${id} AND deleted_at IS NULL`;
    return result.count > 0;
  }

  async appendInbox(rows: InboxInsert[], inline?: InlineProcessing): Promise<AppendResult> {
    return appendInboxRows(this.sql, rows, inline);
  }

  async getInboxRow(id: string): Promise<InboxRow | null> {
    const sql = this.sql;
    const [row] = await sql<InboxDbRow[]>`
      SELECT i.*, ${sql.unsafe(joinedEventColumns('e'))}
      FROM inbox i LEFT JOIN events e ON e.id = i.raw_event WHERE i.id = ${id}`;
    return row ? inboxRowFrom(row) : null;
  }

  async listInbox(query: InboxQuery): Promise<Page<InboxRow, string>> {
    const sql = this.sql;
    const rows = (
      await sql<InboxDbRow[]>`
        SELECT i.*, ${sql.unsafe(joinedEventColumns('e'))} FROM (
          SELECT * FROM inbox WHERE TRUE
            ${query.status ? sql.unsafe(`AND ${inboxStatusIs(query.status)}`) : sql``}
            ${query.sourceId ? sql`AND source_id = ${query.sourceId}` : sql``}
            ${query.cursor ? sql`AND id < ${query.cursor}` : sql``}
          ORDER BY id DESC LIMIT ${query.limit + 1}
        ) i LEFT JOIN events e ON e.id = i.raw_event ORDER BY i.id DESC`
    ).map(inboxRowFrom);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, next: rows.length > query.limit && last ? last.id : null };
  }

  async countInbox(): Promise<InboxCounts> {
    return inboxCountsFrom(await this.sql.unsafe(countInboxSql('COUNT(*)::int')));
  }

  async requeueInbox(selector: RequeueSelector): Promise<number> {
    const sql = this.sql;
    if (selector.ids?.length === 0) return 0;
    const result = await sql`
      UPDATE inbox SET status = 'pending', error = NULL
      WHERE status <> 'pending'
        ${selector.ids ? sql`AND id IN ${sql(selector.ids)}` : sql``}
        ${selector.status ? sql.unsafe(`AND ${inboxStatusIs(selector.status)}`) : sql``}
        ${selector.sourceId ? sql`AND source_id = ${selector.sourceId}` : sql``}
        ${selector.since ? sql`AND received_at >= ${selector.since.getTime()}` : sql``}
        ${selector.until ? sql`AND received_at < ${selector.until.getTime()}` : sql``}`;
    return result.count;
  }

  processInbox(
    limit: number,
    plan: (rows: InboxRow[]) => RowOutcome[],
    effects?: EventEffects,
    at?: Date,
  ): Promise<BatchSummary> {
    return processInboxBatch(this.sql, limit, plan, effects, at);
  }

  publishEvents(
    events: PublishedEvent[],
    effects: EventEffects,
    at: Date,
  ): Promise<Array<{ event: CanonicalEvent; created: boolean }>> {
    return publishEventBatch(this.sql, events, effects, at);
  }

  listMessageEvents(messageId: string, limit: number): Promise<CanonicalEvent[]> {
    return insights.selectMessageEvents(this.sql, messageId, limit);
  }

  listRecipientEvents(recipient: string, limit: number): Promise<CanonicalEvent[]> {
    return insights.selectRecipientEvents(this.sql, recipient, limit);
  }

  eventStats(query: StatsQuery): Promise<StatsRow[]> {
    return insights.selectStats(this.sql, query);
  }

  operationalCounts(now: Date): Promise<OperationalCounts> {
    return insights.selectOperationalCounts(this.sql, now);
  }

  endpointHistory(endpointId: string, since: Date): Promise<HourBucket[]> {
    return insights.selectEndpointHistory(this.sql, endpointId, since);
  }

  sourceHistory(sourceId: string, since: Date): Promise<HourBucket[]> {
    return insights.selectSourceHistory(this.sql, sourceId, since);
  }

  async getSuppressions(email: string): Promise<SuppressionEntry[]> {
    return (await insights.selectSuppressions(this.sql, [email])).get(email) ?? [];
  }

  checkSuppressions(emails: string[]): Promise<Map<string, SuppressionEntry[]>> {
    return insights.selectSuppressions(this.sql, emails);
  }

  listSuppressions(
    query: SuppressionQuery,
  ): Promise<Page<SuppressionEntry, [number, string, string, string]>> {
    return insights.pageSuppressions(this.sql, query);
  }

  addSuppression(entry: SuppressionEntry): Promise<void> {
    return insights.upsertSuppression(this.sql, entry);
  }

  removeSuppressions(email: string, filter: { scope?: string; reason?: string }): Promise<number> {
    return insights.deleteSuppressions(this.sql, email, filter);
  }

  async getEvent(id: string): Promise<CanonicalEvent | null> {
    const sql = this.sql;
    const [row] = await sql<
      EventBodyRow[]
    >`SELECT ${sql.unsafe(eventBodyColumns())} FROM events WHERE id = ${id}`;
    return row ? eventFromRow(row) : null;
  }

  async listEvents(query: EventQuery): Promise<Page<CanonicalEvent, EventCursor>> {
    const sql = this.sql;
    const c = query.cursor;
    const rows = await sql<(EventBodyRow & { occurred_at: number })[]>`
      SELECT ${sql.unsafe(eventBodyColumns())} FROM events WHERE TRUE
        ${query.type ? sql`AND type = ${query.type}` : sql``}
        ${query.recipient ? sql`AND recipient = ${query.recipient}` : sql``}
        ${query.messageId ? sql`AND message_id = ${query.messageId}` : sql``}
        ${query.sourceId ? sql`AND source_id = ${query.sourceId}` : sql``}
        ${query.since ? sql`AND occurred_at >= ${query.since.getTime()}` : sql``}
        ${query.until ? sql`AND occurred_at < ${query.until.getTime()}` : sql``}
        ${c ? sql`AND (occurred_at, id) < (${c.occurredAt}, ${c.id})` : sql``}
      ORDER BY occurred_at DESC, id DESC LIMIT ${query.limit + 1}`;
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(eventFromRow),
      next:
        rows.length > query.limit && last
          ? { occurredAt: last.occurred_at, id: idText(last.id, 'evt') }
          : null,
    };
  }

  async countEvents(): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`SELECT COUNT(*)::int AS n FROM events`;
    return row?.n ?? 0;
  }

  async eventsAfter(
    after: EventPosition,
    limit: number,
    filter: EventFilter = {},
    options: FeedOptions = {},
  ): Promise<EventFeed | null> {
    const sql = this.sql;
    // Below the horizon every writing transaction has ended, so no row can still appear there; the
    // rows above it are left for a later call (migrations/postgres/009_event_sequence.sql).
    const horizon = await this.latestEventPosition();
    if (after.tx > horizon.tx || (after.tx === horizon.tx && after.seq > 0n)) return null;
    // Transaction 0 holds only the rows stored before migration 009 (and an SQLite position looks
    // the same): past the last of them, the position was never given out here.
    if (after.tx === 0n && after.seq > 0n) {
      const [legacy] = await sql<{ last: string }[]>`
        SELECT COALESCE(max(seq), 0)::text AS last FROM events WHERE tx = '0'::xid8`;
      if (after.seq > BigInt(legacy?.last ?? 0)) return null;
    }
    // A row visible in the snapshot taken when the feed started was committed before then. Every
    // such row has a transaction id below the snapshot's xmax: past that, nothing is left to skip.
    const snapshot = options.excluding;
    const skip = snapshot === undefined ? null : { snapshot, xmax: snapshotXmax(snapshot) };
    const excluding = skip && after.tx < skip.xmax ? skip : null;
    const scan = scanLimit(limit, filter, excluding !== null);
    // The filter picks bodies rather than rows, so the scan follows the (tx, seq) index and the rows
    // it passed over tell where the next call starts.
    const match = sql`TRUE
      ${excluding ? sql`AND NOT pg_visible_in_snapshot(tx, ${excluding.snapshot}::pg_snapshot)` : sql``}
      ${filter.type ? sql`AND type = ${filter.type}` : sql``}
      ${filter.recipient ? sql`AND recipient = ${filter.recipient}` : sql``}
      ${filter.messageId ? sql`AND message_id = ${filter.messageId}` : sql``}
      ${filter.sourceId ? sql`AND source_id = ${filter.sourceId}` : sql``}`;
    // Ordered by the columns, not by the text the query returns (which would sort 10 before 9).
    const rows = await sql<(Omit<EventBodyRow, 'body'> & { tx: string; seq: string; body: string | null })[]>`
      SELECT tx::text AS tx, seq::text AS seq, CASE WHEN ${match} THEN body END AS body,
        ${sql.unsafe(eventColumnsButBody())} FROM events
      WHERE (tx, seq) > (${after.tx.toString()}::xid8, ${after.seq.toString()}::bigint)
        AND tx < ${horizon.tx.toString()}::xid8
      ORDER BY events.tx, events.seq LIMIT ${scan}`;
    const feed = feedPage(
      rows.map((row) => ({
        position: { tx: BigInt(row.tx), seq: BigInt(row.seq) },
        body: row.body === null ? null : eventJson({ ...row, body: row.body }),
      })),
      limit,
      scan,
      horizon,
    );
    return excluding && feed.next.tx < excluding.xmax ? { ...feed, excluding: excluding.snapshot } : feed;
  }

  async latestEventPosition(): Promise<EventPosition> {
    // Seq 0 sorts before every row of transaction `xmin`, which may still be running.
    const [row] = await this.sql<{ xmin: string }[]>`
      SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`;
    return { tx: BigInt(row?.xmin ?? 0), seq: 0n };
  }

  async startEventFeed(): Promise<FeedStart> {
    // Transaction ids are the whole server's: any transaction that wrote anywhere on it (another
    // database or application, a session idle in a transaction) holds xmin back, and the rows
    // committed above it before now are old to this follower: exactly the rows this snapshot sees.
    const [row] = await this.sql<{ snapshot: string; xmin: string; xmax: string }[]>`
      SELECT s::text AS snapshot, pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax
      FROM pg_current_snapshot() AS s`;
    if (!row) throw new Error('pg_current_snapshot() returned no row');
    const position = { tx: BigInt(row.xmin), seq: 0n };
    // With no transaction running, xmin is xmax: every row below it is old, every later one new.
    return row.xmin === row.xmax ? { position } : { position, excluding: row.snapshot };
  }

  async eventPosition(id: string): Promise<EventPosition | null> {
    const [row] = await this.sql<{ tx: string; seq: string }[]>`
      SELECT tx::text AS tx, seq::text AS seq FROM events
      WHERE id = ${id} AND tx < pg_snapshot_xmin(pg_current_snapshot())`;
    return row ? { tx: BigInt(row.tx), seq: BigInt(row.seq) } : null;
  }

  createEndpoint(endpoint: EndpointRecord): Promise<void> {
    return delivery.insertEndpoint(this.sql, endpoint);
  }

  getEndpoint(id: string): Promise<EndpointRecord | null> {
    return delivery.selectEndpoint(this.sql, id);
  }

  listEndpoints(): Promise<EndpointRecord[]> {
    return delivery.selectEndpoints(this.sql);
  }

  updateEndpoint(id: string, patch: EndpointPatch, now: Date): Promise<EndpointRecord | null> {
    return this.sql.begin((tx) =>
      delivery.patchEndpoint(tx, id, patch, now),
    ) as Promise<EndpointRecord | null>;
  }

  deleteEndpoint(id: string, now: Date): Promise<boolean> {
    return this.sql.begin((tx) => delivery.softDeleteEndpoint(tx, id, now)) as Promise<boolean>;
  }

  createDeliveries(deliveries: NewDelivery[], now: Date): Promise<number> {
    // In one transaction: a long list is inserted in several statements, and goes in whole or not at all.
    return this.sql.begin((tx) => delivery.insertDeliveries(tx, deliveries, now)) as Promise<number>;
  }

  claimDueDeliveries(options: FairClaimOptions): Promise<ClaimedDelivery[]> {
    return this.sql.begin((tx) => delivery.claimDue(tx, options)) as Promise<ClaimedDelivery[]>;
  }

  async releaseDeliveries(items: Array<{ id: string; owner: string; notBefore: Date }>): Promise<void> {
    if (items.length > 0) await delivery.release(this.sql, items);
  }

  async releaseAllLeases(): Promise<number> {
    const result = await this.sql`
      UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL AND status = 'pending'`;
    return result.count;
  }

  async recordAttempts(
    results: AttemptResult[],
    now: Date,
    options?: RecordOptions,
  ): Promise<EndpointTransition[]> {
    if (results.length === 0) return [];
    return this.sql.begin((tx) => delivery.applyAttempts(tx, results, now, options)) as Promise<
      EndpointTransition[]
    >;
  }

  getDelivery(id: string): Promise<DeliveryRecord | null> {
    return delivery.selectDelivery(this.sql, id);
  }

  listDeliveries(query: DeliveryQuery): Promise<Page<DeliveryRecord, string>> {
    return delivery.selectDeliveries(this.sql, query);
  }

  listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    return delivery.selectAttempts(this.sql, deliveryId);
  }

  listAttemptSamples(endpointId: string, since: Date): Promise<AttemptSample[]> {
    return delivery.selectAttemptSamples(this.sql, endpointId, since);
  }

  retryDelivery(id: string, now: Date): Promise<RetryResult> {
    return delivery.retryNow(this.sql, id, now);
  }

  createReplay(replay: ReplayRecord): Promise<void> {
    return delivery.insertReplay(this.sql, replay);
  }

  getReplay(id: string): Promise<ReplayRecord | null> {
    return delivery.selectReplay(this.sql, id);
  }

  runningReplays(): Promise<string[]> {
    return delivery.runningReplayIds(this.sql);
  }

  advanceReplay(id: string, pageSize: number, select: ReplaySelect, now: Date): Promise<ReplayRecord | null> {
    return this.sql.begin((tx) =>
      delivery.advance(tx, id, pageSize, select, now),
    ) as Promise<ReplayRecord | null>;
  }

  async addApiKey(key: ApiKeyRecord): Promise<void> {
    await this.sql`
      INSERT INTO api_keys (id, name, hash, created_at) VALUES (${key.id}, ${key.name}, ${key.hash}, ${key.createdAt.getTime()})
      ON CONFLICT (hash) DO NOTHING`;
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.sql<{ id: string; name: string; hash: string; created_at: number }[]>`
      SELECT id, name, hash, created_at FROM api_keys WHERE hash = ${hash} AND revoked_at IS NULL`;
    return row ? { id: row.id, name: row.name, hash: row.hash, createdAt: new Date(row.created_at) } : null;
  }

  async addFirstApiKey(key: ApiKeyRecord): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      // Nodes starting together on an empty database: one generates the key, the others see it.
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`mailhook:first-key:${this.schema}`}))`;
      const result = await tx`
        INSERT INTO api_keys (id, name, hash, created_at)
        SELECT ${key.id}, ${key.name}, ${key.hash}, ${key.createdAt.getTime()}
        WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)`;
      return result.count === 1;
    }) as Promise<boolean>;
  }

  async countApiKeys(): Promise<number> {
    const [row] = await this.sql<
      { n: number }[]
    >`SELECT COUNT(*)::int AS n FROM api_keys WHERE revoked_at IS NULL`;
    return row?.n ?? 0;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.sql<{ id: string; name: string; hash: string; created_at: number }[]>`
      SELECT id, name, hash, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id`;
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      hash: row.hash,
      createdAt: new Date(row.created_at),
    }));
  }

  revokeApiKey(id: string, now: Date): Promise<RevokeResult> {
    return this.sql.begin(async (tx) => {
      // Locks every active key: a concurrent revocation waits, then sees this one's result.
      const live = await tx<
        { id: string }[]
      >`SELECT id FROM api_keys WHERE revoked_at IS NULL ORDER BY id FOR UPDATE`;
      const result = revocationOf(
        live.map((key) => key.id),
        id,
      );
      if (result === 'revoked') await tx`UPDATE api_keys SET revoked_at = ${now.getTime()} WHERE id = ${id}`;
      return result;
    }) as Promise<RevokeResult>;
  }

  async pruneBatch(table: PrunedTable, cutoffs: RetentionCutoffs, limit: number): Promise<number> {
    return retention.pruneBatch(this.sql, this.schema, table, cutoffs, limit);
  }

  async reclaim(tables: PrunedTable[]): Promise<void> {
    return retention.reclaim(this.sql, tables);
  }

  async oldestKept(): Promise<Record<PrunedTable, Date | null>> {
    return retention.oldestKept(this.sql);
  }
  async createReconciliation(job: ReconcileJob): Promise<CreateReconcileResult> {
    return reconciliations.createJob(this.sql, job);
  }

  async getReconciliation(id: string): Promise<ReconcileJob | null> {
    return reconciliations.getJob(this.sql, id);
  }

  async listReconciliations(sourceId: string, limit: number): Promise<ReconcileJob[]> {
    return reconciliations.listJobs(this.sql, sourceId, limit);
  }

  async claimReconciliation(owner: string, now: Date, leaseMs: number): Promise<ReconcileJob | null> {
    return reconciliations.claimJob(this.sql, owner, now, leaseMs);
  }

  async saveReconciliation(
    id: string,
    owner: string,
    progress: ReconcileProgress,
    now: Date,
    leaseMs: number,
  ): Promise<boolean> {
    return reconciliations.saveProgress(this.sql, id, owner, progress, now, leaseMs);
  }

  async finishReconciliation(
    id: string,
    owner: string,
    outcome: { status: 'done' | 'failed'; error: string | null },
    now: Date,
  ): Promise<boolean> {
    return reconciliations.finishJob(this.sql, id, owner, outcome, now);
  }

  async heartbeat(now: Date): Promise<Date | null> {
    return reconciliations.heartbeat(this.sql, now);
  }
}

export type { Queryable };
