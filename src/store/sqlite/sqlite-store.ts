import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CanonicalEvent } from '../../events.js';
import { loadMigrations } from '../migrations.js';
import { type EventRow, type InboxDbRow, inboxRowFrom, type SourceRow, sourceFrom } from '../rows.js';
import type {
  ApiKeyRecord,
  AttemptRecord,
  AttemptResult,
  AttemptSample,
  BatchSummary,
  ClaimedDelivery,
  ClaimOptions,
  DeliveryQuery,
  DeliveryRecord,
  EndpointPatch,
  EndpointRecord,
  EndpointTransition,
  EventCursor,
  EventEffects,
  EventQuery,
  HourBucket,
  InboxCounts,
  InboxInsert,
  InboxQuery,
  InboxRow,
  NewDelivery,
  OperationalCounts,
  Page,
  PublishedEvent,
  RecordOptions,
  ReplayRecord,
  ReplaySelect,
  RequeueSelector,
  RowOutcome,
  SourcePatch,
  SourceRecord,
  StatsQuery,
  StatsRow,
  Store,
  SuppressionEntry,
  SuppressionQuery,
} from '../store.js';
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
import { Filters } from './filters.js';
import {
  applyEffects,
  deleteSuppressions,
  type EffectsContext,
  eventParams,
  insertEventStatement,
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

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  filename: string;
}

/**
 * The embedded store. WAL with synchronous=FULL: a committed ingest survives a power cut, not only a
 * process crash. better-sqlite3 is synchronous, so every transaction here is atomic with respect to
 * the event loop; the ingest group commit keeps fsyncs few.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly capabilities = { singleNode: true, blockingWrites: true };
  private readonly db: Database.Database;

  constructor(options: SqliteStoreOptions) {
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
  }

  async migrate(): Promise<number[]> {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const applied: number[] = [];
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
    if (this.db.open) this.db.close();
  }

  async createSource(source: SourceRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO sources (id, name, provider, config, enabled, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        source.id,
        source.name,
        source.provider,
        JSON.stringify(source.config),
        source.enabled ? 1 : 0,
        JSON.stringify(source.state),
        source.createdAt.getTime(),
        source.updatedAt.getTime(),
      );
  }

  async getSource(id: string): Promise<SourceRecord | null> {
    const row = this.db
      .prepare<[string], SourceRow>('SELECT * FROM sources WHERE id = ? AND deleted_at IS NULL')
      .get(id);
    return row ? sourceFrom(row) : null;
  }

  async listSources(): Promise<SourceRecord[]> {
    return this.db
      .prepare<[], SourceRow>('SELECT * FROM sources WHERE deleted_at IS NULL ORDER BY id')
      .all()
      .map(sourceFrom);
  }

  async updateSource(id: string, patch: SourcePatch, now: Date): Promise<SourceRecord | null> {
    const result = this.db
      .prepare(
        `UPDATE sources SET
           name = COALESCE(?, name),
           config = COALESCE(?, config),
           enabled = COALESCE(?, enabled),
           updated_at = ?
         WHERE id = ? AND deleted_at IS NULL`,
      )
      .run(
        patch.name ?? null,
        patch.config ? JSON.stringify(patch.config) : null,
        patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
        now.getTime(),
        id,
      );
    return result.changes === 0 ? null : this.getSource(id);
  }

  async updateSourceState(id: string, state: Record<string, unknown>, now: Date): Promise<void> {
    this.db
      .prepare('UPDATE sources SET state = json_patch(state, ?), updated_at = ? WHERE id = ?')
      .run(JSON.stringify(state), now.getTime(), id);
  }

  async deleteSource(id: string, now: Date): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE sources SET deleted_at = ?, enabled = 0 WHERE id = ? AND deleted_at IS NULL')
      .run(now.getTime(), id);
    return result.changes > 0;
  }

  async appendInbox(rows: InboxInsert[]): Promise<void> {
    if (rows.length === 0) return;
    const insert = this.db.prepare(
      `INSERT INTO inbox (id, source_id, provider, received_at, method, path, query, headers, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const row of rows) {
        insert.run(
          row.id,
          row.sourceId,
          row.provider,
          row.receivedAt.getTime(),
          row.method,
          row.path,
          row.query,
          JSON.stringify(row.headers),
          row.body,
        );
      }
    })();
  }

  async getInboxRow(id: string): Promise<InboxRow | null> {
    const row = this.db.prepare<[string], InboxDbRow>('SELECT * FROM inbox WHERE id = ?').get(id);
    return row ? inboxRowFrom(row) : null;
  }

  async listInbox(query: InboxQuery): Promise<Page<InboxRow, string>> {
    const filters = new Filters()
      .add('status = ?', query.status)
      .add('source_id = ?', query.sourceId)
      .add('id < ?', query.cursor);
    const sql = `SELECT * FROM inbox ${filters.where} ORDER BY id DESC LIMIT ?`;
    const rows = this.db
      .prepare<unknown[], InboxDbRow>(sql)
      .all(...filters.params, query.limit + 1)
      .map(inboxRowFrom);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, next: rows.length > query.limit && last ? last.id : null };
  }

  async countInbox(): Promise<InboxCounts> {
    const counts: InboxCounts = { pending: 0, processed: 0, quarantined: 0 };
    const rows = this.db
      .prepare<[], { status: keyof InboxCounts; n: number }>(
        'SELECT status, COUNT(*) AS n FROM inbox GROUP BY status',
      )
      .all();
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async requeueInbox(selector: RequeueSelector): Promise<number> {
    const filters = new Filters("status <> 'pending'")
      .addIn('id', selector.ids)
      .add('status = ?', selector.status)
      .add('source_id = ?', selector.sourceId)
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
    const summary: BatchSummary = {
      rows: 0,
      processed: 0,
      quarantined: 0,
      inserted: 0,
      duplicates: 0,
      deliveries: 0,
      insertedByType: {},
    };
    const insertEvent = insertEventStatement(this.db);
    const markProcessed = this.db.prepare(
      `UPDATE inbox SET status = 'processed', attempts = attempts + 1, error = NULL, notes = ?,
         event_count = ?, duplicate_count = ?, processed_at = ?
       WHERE id = ? AND status = 'pending'`,
    );
    const markQuarantined = this.db.prepare(
      `UPDATE inbox SET status = 'quarantined', attempts = attempts + 1, error = ?, notes = NULL,
         event_count = 0, duplicate_count = 0, processed_at = ?
       WHERE id = ? AND status = 'pending'`,
    );
    this.db
      .transaction(() => {
        const rows = this.db
          .prepare<[number], InboxDbRow>("SELECT * FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?")
          .all(limit)
          .map(inboxRowFrom);
        summary.rows = rows.length;
        if (rows.length === 0) return;
        const now = (at ?? new Date()).getTime();
        const ctx = this.effectsContext(effects, now);
        const fresh: CanonicalEvent[] = [];
        for (const outcome of plan(rows)) {
          if (outcome.kind === 'quarantined') {
            markQuarantined.run(outcome.error, now, outcome.inboxId);
            summary.quarantined++;
            continue;
          }
          let inserted = 0;
          for (const { dedupKey, event } of outcome.events) {
            if (insertEvent.run(...eventParams(event, dedupKey, outcome.inboxId)).changes !== 1) continue;
            inserted++;
            fresh.push(event);
          }
          const duplicates = outcome.events.length - inserted;
          const notes = outcome.notes.length ? JSON.stringify(outcome.notes) : null;
          markProcessed.run(notes, inserted, duplicates, now, outcome.inboxId);
          summary.processed++;
          summary.inserted += inserted;
          summary.duplicates += duplicates;
        }
        // Effects run once the whole batch is stored, so rules that read history see all of it.
        for (const event of fresh) {
          applyEffects(this.db, event, ctx);
          const key = `${event.data.provider}|${event.type}`;
          summary.insertedByType[key] = (summary.insertedByType[key] ?? 0) + 1;
        }
        summary.deliveries = insertDeliveries(this.db, ctx.fanOut, new Date(now));
      })
      .immediate();
    return summary;
  }

  private effectsContext(effects: EventEffects | undefined, now: number): EffectsContext {
    const endpoints = effects?.route ? selectEndpoints(this.db, { routable: true }) : [];
    return { effects, endpoints, now, fanOut: [] };
  }

  async publishEvents(
    events: PublishedEvent[],
    effects: EventEffects,
    at: Date,
  ): Promise<Array<{ event: CanonicalEvent; created: boolean }>> {
    const insertEvent = insertEventStatement(this.db);
    const existing = this.db.prepare<[string, string], { body: string }>(
      'SELECT body FROM events WHERE source_id = ? AND dedup_key = ?',
    );
    return this.db
      .transaction(() => {
        const now = at.getTime();
        const ctx = this.effectsContext(effects, now);
        const results = events.map(({ event, dedupKey }) => {
          if (insertEvent.run(...eventParams(event, dedupKey, null)).changes === 1) {
            applyEffects(this.db, event, ctx);
            return { event, created: true };
          }
          const row = existing.get(event.data.source_id, dedupKey);
          return { event: row ? (JSON.parse(row.body) as CanonicalEvent) : event, created: false };
        });
        insertDeliveries(this.db, ctx.fanOut, at);
        return results;
      })
      .immediate();
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
      .prepare<[string], Pick<EventRow, 'body'>>('SELECT body FROM events WHERE id = ?')
      .get(id);
    return row ? (JSON.parse(row.body) as CanonicalEvent) : null;
  }

  async listEvents(query: EventQuery): Promise<Page<CanonicalEvent, EventCursor>> {
    const cursor = query.cursor;
    const filters = new Filters()
      .add('type = ?', query.type)
      .add('recipient = ?', query.recipient)
      .add('message_id = ?', query.messageId)
      .add('source_id = ?', query.sourceId)
      .add('occurred_at >= ?', query.since?.getTime())
      .add('occurred_at < ?', query.until?.getTime())
      .add(
        '(occurred_at < ? OR (occurred_at = ? AND id < ?))',
        cursor?.occurredAt,
        cursor?.occurredAt,
        cursor?.id,
      );
    const sql = `SELECT id, occurred_at, body FROM events ${filters.where}
                 ORDER BY occurred_at DESC, id DESC LIMIT ?`;
    const rows = this.db
      .prepare<unknown[], Pick<EventRow, 'id' | 'occurred_at' | 'body'>>(sql)
      .all(...filters.params, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => JSON.parse(row.body) as CanonicalEvent),
      next: rows.length > query.limit && last ? { occurredAt: last.occurred_at, id: last.id } : null,
    };
  }

  async countEvents(): Promise<number> {
    return this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()?.n ?? 0;
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

  async claimDueDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    return this.db.transaction(() => claimDue(this.db, options)).immediate();
  }

  async releaseDeliveries(items: Array<{ id: string; owner: string; notBefore: Date }>): Promise<void> {
    if (items.length > 0) this.db.transaction(() => release(this.db, items)).immediate();
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
    return this.db.transaction(() => applyAttempts(this.db, results, now, options)).immediate();
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

  async retryDelivery(id: string, now: Date): Promise<DeliveryRecord | null> {
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
    this.db
      .prepare(
        'INSERT INTO api_keys (id, name, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING',
      )
      .run(key.id, key.name, key.hash, key.createdAt.getTime());
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = this.db
      .prepare<[string], { id: string; name: string; hash: string; created_at: number }>(
        'SELECT id, name, hash, created_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL',
      )
      .get(hash);
    return row ? { id: row.id, name: row.name, hash: row.hash, createdAt: new Date(row.created_at) } : null;
  }

  async addFirstApiKey(key: ApiKeyRecord): Promise<boolean> {
    const result = this.db
      .prepare(
        `INSERT INTO api_keys (id, name, hash, created_at)
         SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)`,
      )
      .run(key.id, key.name, key.hash, key.createdAt.getTime());
    return result.changes === 1;
  }

  async countApiKeys(): Promise<number> {
    return (
      this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL').get()
        ?.n ?? 0
    );
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.db
      .prepare<[], { id: string; name: string; hash: string; created_at: number }>(
        'SELECT id, name, hash, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id',
      )
      .all()
      .map((row) => ({ id: row.id, name: row.name, hash: row.hash, createdAt: new Date(row.created_at) }));
  }

  async revokeApiKey(id: string, now: Date): Promise<boolean> {
    return (
      this.db
        .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(now.getTime(), id).changes > 0
    );
  }
}
