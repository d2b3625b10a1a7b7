import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CanonicalEvent } from '../../events.js';
import { storedDedupKey } from '../dedup-key.js';
import { type EventBodyRow, eventColumnsButBody, eventFromRow, eventJson } from '../event-body.js';
import { feedPage, scanLimit } from '../event-feed.js';
import { DeferredHandOff, type DeliveryHandOff } from '../hand-off.js';
import { withBodyHolder } from '../inbox-raw.js';
import { countInboxSql, inboxCountsFrom, inboxStatusIs } from '../inbox-status.js';
import { loadMigrations } from '../migrations.js';
import type { CreateReconcileResult, ReconcileJob, ReconcileProgress } from '../reconcile-types.js';
import type { PrunedTable, RetentionCutoffs } from '../retention.js';
import { type InboxDbRow, inboxRowFrom } from '../rows.js';
import type {
  ApiKeyRecord,
  AppendResult,
  AttemptRecord,
  AttemptResult,
  AttemptSample,
  BatchSummary,
  ClaimedDelivery,
  DeliveryQuery,
  DeliveryRecord,
  EndpointPatch,
  EndpointRecord,
  EndpointTransition,
  EventCursor,
  EventEffects,
  EventFeed,
  EventFilter,
  EventPosition,
  EventQuery,
  FairClaimOptions,
  FeedStart,
  HourBucket,
  InboxCounts,
  InboxInsert,
  InboxQuery,
  InboxRow,
  InlineProcessing,
  NewDelivery,
  OperationalCounts,
  Page,
  PublishedEvent,
  RecordOptions,
  ReplayRecord,
  ReplaySelect,
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
import { idBytes, idText } from '../stored-id.js';
import { configureConnection } from './connection.js';
import {
  advance,
  applyAttempts,
  claimDue,
  insertDeliveries,
  insertEndpoint,
  insertReplay,
  patchEndpoint,
  release,
  retryNow,
  runningReplayIds,
  selectAttemptSamples,
  selectAttempts,
  selectDeliveries,
  selectDelivery,
  selectEndpoint,
  selectEndpoints,
  selectReplay,
  softDeleteEndpoint,
} from './delivery-store.js';
import { processInboxBatch, publishEventBatch } from './event-writer.js';
import { DATA_DIR_MODE, restrictDatabaseFiles } from './file-modes.js';
import { Filters } from './filters.js';
import { appendInboxRows } from './inbox-append.js';
import {
  deleteSuppressions,
  pageSuppressions,
  selectEndpointHistory,
  selectMessageEvents,
  selectOperationalCounts,
  selectRecipientEvents,
  selectSourceHistory,
  selectStats,
  selectSuppressions,
  upsertSuppression,
} from './insights.js';
import * as reconciliations from './reconciliations.js';
import * as retention from './retention.js';
import { eventColumns, SOURCE_ID_OF, sourceIs } from './source-keys.js';
import * as sources from './sources.js';
import { cacheStatements } from './statement-cache.js';
import { type SyncFile, WalSync } from './wal-sync.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  filename: string;
  /**
   * FULL (default): a commit survives a power cut. NORMAL: writes that may be redone after a power
   * cut, which at-least-once allows (attempts and delivery states, recorded without their own sync).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** How the WAL is flushed after an ingest commit (tests replace it; wal-sync.ts). */
  syncFile?: SyncFile;
}

/**
 * The embedded store. WAL with synchronous=FULL: a committed ingest survives a power cut, not only a
 * process crash (the ingest commit's own sync runs off the thread, wal-sync.ts, and its
 * acknowledgement waits for it). better-sqlite3 is synchronous, so every transaction here is atomic
 * with respect to the event loop; the ingest group commit keeps fsyncs few.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly capabilities = { singleNode: true, blockingWrites: true, oneWriter: true };
  private readonly db: Database.Database;
  private readonly synchronous: 'FULL' | 'NORMAL';
  /** Syncs ingest commits' WAL frames off this thread (FULL on disk only). */
  private readonly walSync: WalSync | null;
  /** The ingest group being committed and synced, which the next one waits for. */
  private appending: Promise<void> = Promise.resolve();

  constructor(options: SqliteStoreOptions) {
    this.synchronous = options.synchronous ?? 'FULL';
    const onDisk = options.filename !== ':memory:';
    if (onDisk) mkdirSync(dirname(options.filename), { recursive: true, mode: DATA_DIR_MODE });
    let db: Database.Database | undefined;
    try {
      if (onDisk) restrictDatabaseFiles(options.filename);
      db = new Database(options.filename);
      configureConnection(db, this.synchronous);
    } catch (err) {
      db?.close();
      throw new Error(
        `cannot open the SQLite database ${options.filename}: ${(err as Error).message} (check that MAILHOOK_DATA_DIR exists and is writable)`,
        { cause: err },
      );
    }
    cacheStatements(db);
    this.db = db;
    // The WAL beside the file SQLite opened, symbolic links followed, not beside the path given.
    this.walSync =
      onDisk && this.synchronous === 'FULL' ? new WalSync(`${mainFileOf(db)}-wal`, options.syncFile) : null;
  }

  async migrate(): Promise<number[]> {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const applied: number[] = [];
    // Migration 012 rewrites the dedup keys stored before it with the function writers use.
    this.db.function('mailhook_dedup_key', { deterministic: true }, (key) => storedDedupKey(String(key)));
    // IMMEDIATE takes the write lock first, so two processes migrating at once apply each file once.
    const run = this.db.transaction(() => {
      const done = new Set(
        this.db
          .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
          .all()
          .map((r) => r.version),
      );
      for (const migration of loadMigrations('sqlite')) {
        if (done.has(migration.version)) continue;
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, Date.now());
        applied.push(migration.version);
      }
    });
    run.immediate();
    return applied;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.walSync?.close();
    if (this.db.open) this.db.close();
  }

  async createSource(source: SourceRecord): Promise<void> {
    return sources.createSource(this.db, source);
  }

  async getSource(id: string): Promise<SourceRecord | null> {
    return sources.getSource(this.db, id);
  }

  async listSources(): Promise<SourceRecord[]> {
    return sources.listSources(this.db);
  }

  async updateSource(id: string, patch: SourcePatch, now: Date): Promise<SourceRecord | null> {
    return sources.updateSource(this.db, id, patch, now);
  }

  async updateSourceState(id: string, state: Record<string, unknown>, now: Date): Promise<void> {
    return sources.updateSourceState(this.db, id, state, now);
  }

  async deleteSource(id: string, now: Date): Promise<boolean> {
    return sources.deleteSource(this.db, id, now);
  }

  /**
   * The ingest group commit. While this thread's delivery worker has attempts in flight, the commit
   * does not sync: WalSync syncs its WAL frames off this thread, shared with the commits around it,
   * and the result (the acknowledgement) and the deliveries it leased wait for that sync, while the
   * thread gets on with deliveries (wal-sync.ts). With nothing else to do, the commit syncs itself:
   * the sync's round trip through the thread pool would only add to the acknowledgement's latency.
   */
  async appendInbox(rows: InboxInsert[], inline?: InlineProcessing): Promise<AppendResult> {
    const walSync = this.walSync;
    if (walSync?.failed) throw walSync.failed;
    const worker = inline?.effects.handOff;
    if (!walSync || !inline || !worker?.busy()) return appendInboxRows(this.db, rows, inline);
    // One group at a time from its commit to its sync: a later group's commit must not run while
    // this one's sync completes, or this acknowledgement waits for that whole commit too.
    const turn = this.appending.then(() => this.appendThenSync(walSync, rows, inline, worker));
    this.appending = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async appendThenSync(
    walSync: WalSync,
    rows: InboxInsert[],
    inline: InlineProcessing,
    worker: DeliveryHandOff,
  ): Promise<AppendResult> {
    if (walSync.failed) throw walSync.failed;
    const handOff = new DeferredHandOff(worker);
    const processing = { ...inline, effects: { ...inline.effects, handOff } };
    const result = this.relaxed(() => appendInboxRows(this.db, rows, processing));
    walSync.noteCommit();
    try {
      await walSync.durable();
    } catch (err) {
      handOff.abandon();
      throw err;
    }
    handOff.start();
    return result;
  }

  async getInboxRow(id: string): Promise<InboxRow | null> {
    const row = this.db
      .prepare<[Buffer | string], InboxDbRow>(
        withBodyHolder('SELECT * FROM inbox WHERE id = ?', '', SOURCE_ID_OF),
      )
      .get(idBytes(id, 'in'));
    return row ? inboxRowFrom(row) : null;
  }

  async listInbox(query: InboxQuery): Promise<Page<InboxRow, string>> {
    const filters = new Filters(...(query.status ? [inboxStatusIs(query.status)] : []))
      .add(sourceIs(), query.sourceId)
      .add('id < ?', query.cursor === undefined ? undefined : idBytes(query.cursor, 'in'));
    const sql = withBodyHolder(
      `SELECT * FROM inbox ${filters.where} ORDER BY id DESC LIMIT ?`,
      'ORDER BY i.id DESC',
      SOURCE_ID_OF,
    );
    const rows = this.db
      .prepare<unknown[], InboxDbRow>(sql)
      .all(...filters.params, query.limit + 1)
      .map(inboxRowFrom);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, next: rows.length > query.limit && last ? last.id : null };
  }

  async countInbox(): Promise<InboxCounts> {
    return inboxCountsFrom(
      this.db.prepare<[], { status: string; n: number }>(countInboxSql('COUNT(*)')).all(),
    );
  }

  async requeueInbox(selector: RequeueSelector): Promise<number> {
    const byStatus = selector.status ? [inboxStatusIs(selector.status)] : [];
    const filters = new Filters("status <> 'pending'", ...byStatus)
      .addIn(
        'id',
        selector.ids?.map((id) => idBytes(id, 'in')),
      )
      .add(sourceIs(), selector.sourceId)
      .add('received_at >= ?', selector.since?.getTime())
      .add('received_at < ?', selector.until?.getTime());
    const result = this.db
      .prepare(`UPDATE inbox SET status = 'pending', error = NULL ${filters.where}`)
      .run(...filters.params);
    return result.changes;
  }

  async processInbox(
    limit: number,
    plan: (rows: InboxRow[]) => RowOutcome[],
    effects?: EventEffects,
    at?: Date,
  ): Promise<BatchSummary> {
    return processInboxBatch(this.db, limit, plan, effects, at);
  }

  async publishEvents(
    events: PublishedEvent[],
    effects: EventEffects,
    at: Date,
  ): Promise<Array<{ event: CanonicalEvent; created: boolean }>> {
    return publishEventBatch(this.db, events, effects, at);
  }

  async listMessageEvents(messageId: string, limit: number): Promise<CanonicalEvent[]> {
    return selectMessageEvents(this.db, messageId, limit);
  }

  async listRecipientEvents(recipient: string, limit: number): Promise<CanonicalEvent[]> {
    return selectRecipientEvents(this.db, recipient, limit);
  }

  async eventStats(query: StatsQuery): Promise<StatsRow[]> {
    return selectStats(this.db, query);
  }

  async operationalCounts(now: Date): Promise<OperationalCounts> {
    return selectOperationalCounts(this.db, now);
  }

  async endpointHistory(endpointId: string, since: Date): Promise<HourBucket[]> {
    return selectEndpointHistory(this.db, endpointId, since);
  }

  async sourceHistory(sourceId: string, since: Date): Promise<HourBucket[]> {
    return selectSourceHistory(this.db, sourceId, since);
  }

  async getSuppressions(email: string): Promise<SuppressionEntry[]> {
    return selectSuppressions(this.db, [email]).get(email) ?? [];
  }

  async checkSuppressions(emails: string[]): Promise<Map<string, SuppressionEntry[]>> {
    return selectSuppressions(this.db, emails);
  }

  async listSuppressions(
    query: SuppressionQuery,
  ): Promise<Page<SuppressionEntry, [number, string, string, string]>> {
    return pageSuppressions(this.db, query);
  }

  async addSuppression(entry: SuppressionEntry): Promise<void> {
    upsertSuppression(this.db, entry);
  }

  async removeSuppressions(email: string, filter: { scope?: string; reason?: string }): Promise<number> {
    return deleteSuppressions(this.db, email, filter);
  }

  async getEvent(id: string): Promise<CanonicalEvent | null> {
    const row = this.db
      .prepare<[Buffer | string], EventBodyRow>(`SELECT ${eventColumns()} FROM events WHERE id = ?`)
      .get(idBytes(id, 'evt'));
    return row ? eventFromRow(row) : null;
  }

  async listEvents(query: EventQuery): Promise<Page<CanonicalEvent, EventCursor>> {
    const cursor = query.cursor;
    const filters = new Filters()
      .add('type = ?', query.type)
      .add('recipient = ?', query.recipient)
      .add('message_id = ?', query.messageId)
      .add(sourceIs(), query.sourceId)
      .add('occurred_at >= ?', query.since?.getTime())
      .add('occurred_at < ?', query.until?.getTime())
      // A row value, so a page seeks on occurred_at in whichever index answers the filters; the OR
      // form read every newer event of the filter again for each page.
      .add('(occurred_at, id) < (?, ?)', cursor?.occurredAt, cursor && idBytes(cursor.id, 'evt'));
    const sql = `SELECT ${eventColumns()} FROM events ${filters.where}
                 ORDER BY occurred_at DESC, id DESC LIMIT ?`;
    const rows = this.db
      .prepare<unknown[], EventBodyRow & { occurred_at: number }>(sql)
      .all(...filters.params, query.limit + 1);
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
    return this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()?.n ?? 0;
  }

  async eventsAfter(
    after: EventPosition,
    limit: number,
    filter: EventFilter = {},
  ): Promise<EventFeed | null> {
    // The rowid is stored order only while the newest stored event is never deleted: its rowid
    // would be given out again, behind followers' positions (see EventPosition). Retention must keep it.
    const head = (await this.latestEventPosition()).seq;
    if (after.tx !== 0n || after.seq > head) return null;
    // The filter picks bodies rather than rows, so the scan stays a rowid range (never a walk of a
    // filter's index) and the rows it passed over tell where the next call starts.
    const terms: Array<[string, string | undefined]> = [
      ['type = ?', filter.type],
      ['recipient = ?', filter.recipient],
      ['message_id = ?', filter.messageId],
      [sourceIs(), filter.sourceId],
    ];
    const given = terms.filter((term): term is [string, string] => term[1] !== undefined);
    const match = given.length ? given.map(([condition]) => condition).join(' AND ') : '1';
    const scan = scanLimit(limit, filter);
    // Bounded by `head`: a row committed since it was read would be returned now and again by the
    // next call, which starts from `head` when this one runs out of rows.
    // The source id, too, is looked up only for the rows kept: the filter appears twice, so do its values.
    const values = given.map(([, value]) => value);
    const rows = this.db
      .prepare<unknown[], Omit<EventBodyRow, 'body'> & { seq: number; body: string | null }>(
        `SELECT rowid AS seq, CASE WHEN ${match} THEN body END AS body,
           ${eventColumnsButBody(`CASE WHEN ${match} THEN ${SOURCE_ID_OF()} END`)} FROM events
         WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?`,
      )
      .all(...values, ...values, after.seq, head, scan);
    return feedPage(
      rows.map((row) => ({
        position: { tx: 0n, seq: BigInt(row.seq) },
        body: row.body === null ? null : eventJson({ ...row, body: row.body }),
      })),
      limit,
      scan,
      { tx: 0n, seq: head },
    );
  }

  async latestEventPosition(): Promise<EventPosition> {
    // The last entry of the table's b-tree: no scan.
    const row = this.db.prepare<[], { head: number | null }>('SELECT MAX(rowid) AS head FROM events').get();
    return { tx: 0n, seq: BigInt(row?.head ?? 0) };
  }

  async startEventFeed(): Promise<FeedStart> {
    // One writer at a time: every row below the head is committed, every later one is new.
    return { position: await this.latestEventPosition() };
  }

  async eventPosition(id: string): Promise<EventPosition | null> {
    const row = this.db
      .prepare<[Buffer | string], { seq: number }>('SELECT rowid AS seq FROM events WHERE id = ?')
      .get(idBytes(id, 'evt'));
    return row ? { tx: 0n, seq: BigInt(row.seq) } : null;
  }

  async createEndpoint(endpoint: EndpointRecord): Promise<void> {
    insertEndpoint(this.db, endpoint);
  }

  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    return selectEndpoint(this.db, id);
  }

  async listEndpoints(): Promise<EndpointRecord[]> {
    return selectEndpoints(this.db);
  }

  async updateEndpoint(id: string, patch: EndpointPatch, now: Date): Promise<EndpointRecord | null> {
    return this.db.transaction(() => patchEndpoint(this.db, id, patch, now)).immediate();
  }

  async deleteEndpoint(id: string, now: Date): Promise<boolean> {
    return this.db.transaction(() => softDeleteEndpoint(this.db, id, now)).immediate();
  }

  async createDeliveries(deliveries: NewDelivery[], now: Date): Promise<number> {
    return this.db.transaction(() => insertDeliveries(this.db, deliveries, now)).immediate();
  }

  async claimDueDeliveries(options: FairClaimOptions): Promise<ClaimedDelivery[]> {
    // A due delivery an ingest commit left in the store goes out only once that commit is durable;
    // checked again after each wait, since another group may commit in between, and the claim runs
    // in the same synchronous stretch as the last check.
    while (this.walSync?.unsynced) await this.walSync.durable();
    return this.relaxed(() => this.db.transaction(() => claimDue(this.db, options)).immediate());
  }

  async releaseDeliveries(items: Array<{ id: string; owner: string; notBefore: Date }>): Promise<void> {
    if (items.length > 0) this.relaxed(() => this.db.transaction(() => release(this.db, items)).immediate());
  }

  async releaseAllLeases(): Promise<number> {
    return this.db
      .prepare(
        "UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL AND status = 'pending'",
      )
      .run().changes;
  }

  async recordAttempts(
    results: AttemptResult[],
    now: Date,
    options?: RecordOptions,
  ): Promise<EndpointTransition[]> {
    if (results.length === 0) return [];
    return this.relaxed(() =>
      this.db.transaction(() => applyAttempts(this.db, results, now, options)).immediate(),
    );
  }

  /**
   * Runs delivery bookkeeping (leases, attempt results) without an fsync of its own. Lost in a power
   * cut, it is redone: a lease expires and the attempt is made again under the same webhook-id,
   * which at-least-once delivery allows. The next sync of the WAL (after every ingest commit) makes
   * these pages durable too, since the WAL is written in order.
   */
  private relaxed<T>(work: () => T): T {
    if (this.synchronous !== 'FULL') return work();
    this.db.prepare('PRAGMA synchronous = NORMAL').run();
    try {
      return work();
    } finally {
      this.db.prepare('PRAGMA synchronous = FULL').run();
    }
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    return selectDelivery(this.db, id);
  }

  async listDeliveries(query: DeliveryQuery): Promise<Page<DeliveryRecord, string>> {
    return selectDeliveries(this.db, query);
  }

  async listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    return selectAttempts(this.db, deliveryId);
  }

  async listAttemptSamples(endpointId: string, since: Date): Promise<AttemptSample[]> {
    return selectAttemptSamples(this.db, endpointId, since);
  }

  async retryDelivery(id: string, now: Date): Promise<RetryResult> {
    return retryNow(this.db, id, now);
  }

  async createReplay(replay: ReplayRecord): Promise<void> {
    insertReplay(this.db, replay);
  }

  async getReplay(id: string): Promise<ReplayRecord | null> {
    return selectReplay(this.db, id);
  }

  async runningReplays(): Promise<string[]> {
    return runningReplayIds(this.db);
  }

  async advanceReplay(
    id: string,
    pageSize: number,
    select: ReplaySelect,
    now: Date,
  ): Promise<ReplayRecord | null> {
    return this.db.transaction(() => advance(this.db, id, pageSize, select, now)).immediate();
  }

  async addApiKey(key: ApiKeyRecord): Promise<void> {
    return sources.addApiKey(this.db, key);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return sources.findApiKeyByHash(this.db, hash);
  }

  async addFirstApiKey(key: ApiKeyRecord): Promise<boolean> {
    return sources.addFirstApiKey(this.db, key);
  }

  async countApiKeys(): Promise<number> {
    return sources.countApiKeys(this.db);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return sources.listApiKeys(this.db);
  }

  async revokeApiKey(id: string, now: Date): Promise<RevokeResult> {
    return sources.revokeApiKey(this.db, id, now);
  }

  async pruneBatch(table: PrunedTable, cutoffs: RetentionCutoffs, limit: number): Promise<number> {
    return retention.pruneBatch(this.db, table, cutoffs, limit);
  }

  async reclaim(): Promise<void> {
    // Freed pages go to the freelist and are used again by the next inserts.
  }

  async oldestKept(): Promise<Record<PrunedTable, Date | null>> {
    return retention.oldestKept(this.db);
  }
  async createReconciliation(job: ReconcileJob): Promise<CreateReconcileResult> {
    return reconciliations.createJob(this.db, job);
  }

  async getReconciliation(id: string): Promise<ReconcileJob | null> {
    return reconciliations.getJob(this.db, id);
  }

  async listReconciliations(sourceId: string, limit: number): Promise<ReconcileJob[]> {
    return reconciliations.listJobs(this.db, sourceId, limit);
  }

  async claimReconciliation(owner: string, now: Date, leaseMs: number): Promise<ReconcileJob | null> {
    return reconciliations.claimJob(this.db, owner, now, leaseMs);
  }

  async saveReconciliation(
    id: string,
    owner: string,
    progress: ReconcileProgress,
    now: Date,
    leaseMs: number,
  ): Promise<boolean> {
    return reconciliations.saveProgress(this.db, id, owner, progress, now, leaseMs);
  }

  async finishReconciliation(
    id: string,
    owner: string,
    outcome: { status: 'done' | 'failed'; error: string | null },
    now: Date,
  ): Promise<boolean> {
    return reconciliations.finishJob(this.db, id, owner, outcome, now);
  }

  async heartbeat(now: Date): Promise<Date | null> {
    return reconciliations.heartbeat(this.db, now);
  }
}

/** The path of the main database file as SQLite opened it. */
function mainFileOf(db: Database.Database): string {
  const main = (db.pragma('database_list') as Array<{ name: string; file: string }>).find(
    (entry) => entry.name === 'main',
  );
  if (!main?.file) throw new Error('SQLite reports no file for the main database');
  return main.file;
}
