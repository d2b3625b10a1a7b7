import type { CanonicalEvent } from '../events.js';
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
} from './delivery-types.js';
import type {
  EventEffects,
  HourBucket,
  OperationalCounts,
  PublishedEvent,
  StatsQuery,
  StatsRow,
  SuppressionEntry,
  SuppressionQuery,
} from './insight-types.js';
import type { CreateReconcileResult, ReconcileJob, ReconcileProgress } from './reconcile-types.js';
import type { PrunedTable, RetentionCutoffs } from './retention.js';

export type * from './delivery-types.js';
export type * from './insight-types.js';

/**
 * The Store speaks the domain's verbs and hides connections, SQL and dialects. Each implementation
 * (SQLite now, PostgreSQL later) passes the same contract suite (test/contract/store-contract.ts).
 * It knows no HTTP, no provider and no rule: callers hand it values and pure functions.
 */

export interface SourceRecord {
  id: string;
  name: string;
  provider: string;
  config: Record<string, unknown>;
  enabled: boolean;
  /** What provider handshakes left behind (SNS subscription status); shown by the API. */
  state: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SourcePatch {
  name?: string;
  config?: Record<string, unknown>;
  enabled?: boolean;
}

export type InboxStatus = 'pending' | 'processed' | 'quarantined';

export const INBOX_STATUSES: readonly InboxStatus[] = ['pending', 'processed', 'quarantined'];

/** A verified raw request as the ingest path appends it. */
export interface InboxInsert {
  id: string;
  sourceId: string;
  provider: string;
  receivedAt: Date;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
  /**
   * A one-time signature token (Mailgun's) to bind to this body in the same commit. The row is
   * stored only if the token is new, expired, or already bound to this very body.
   */
  oneTimeToken?: OneTimeToken;
  /**
   * The W3C traceparent of the request's ingest span (src/tracing/), copied to the deliveries of the
   * row's events; absent when tracing is off.
   */
  trace?: string;
}

export interface OneTimeToken {
  token: string;
  /** SHA-256 of the request body, hex. */
  bodyHash: string;
  /** When the signature stops being fresh; the binding is kept until then. */
  expiresAt: Date;
}

/** What one group commit of the ingest path stored. */
export interface AppendResult {
  /** Rows not stored because their one-time token is bound to another body (a replayed signature). */
  replayed: string[];
  /** The rows processed in the same commit (their events, effects and deliveries); null when none. */
  processed: BatchSummary | null;
  /** Rows stored pending, for the pipeline. */
  pending: number;
}

/**
 * Processing in the ingest commit itself: the group's rows are parsed and their events, effects and
 * deliveries written in the transaction that stores them, so a request costs one commit instead of
 * two. Done only when no older row is pending (the pipeline is caught up, and order is kept); a row
 * the plan cannot process is stored pending, for the pipeline to retry or quarantine as before.
 */
export interface InlineProcessing {
  plan: (rows: InboxRow[]) => RowOutcome[];
  effects: EventEffects;
  now: Date;
}

export interface InboxNote {
  index: number;
  reason: string;
}

export interface InboxRow extends InboxInsert {
  status: InboxStatus;
  /** How many times the pipeline has processed this row (reprocessing adds one). */
  attempts: number;
  error: string | null;
  notes: InboxNote[];
  eventCount: number;
  duplicateCount: number;
  processedAt: Date | null;
}

/** What the pipeline decided for one claimed inbox row. */
export type RowOutcome =
  | { inboxId: string; kind: 'processed'; events: NewEvent[]; notes: InboxNote[] }
  | { inboxId: string; kind: 'quarantined'; error: string };

export interface NewEvent {
  dedupKey: string;
  event: CanonicalEvent;
}

export interface BatchSummary {
  rows: number;
  processed: number;
  quarantined: number;
  inserted: number;
  duplicates: number;
  /** Deliveries created by fan-out. */
  deliveries: number;
  /** New events by `provider|type`, for metrics. */
  insertedByType: Record<string, number>;
}

export interface ClaimOptions {
  owner: string;
  now: Date;
  leaseMs: number;
  /** Most deliveries to claim in all. */
  limit: number;
  /** How many more deliveries this endpoint may take now (its concurrency and rate limits). */
  slots: (endpoint: EndpointRecord) => number;
}

export interface AttemptSample {
  at: Date;
  ok: boolean;
  durationMs: number;
}

/** Differences between stores, named rather than tested for with `if (dialect === …)`. */
export interface StoreCapabilities {
  /** Only one mailhook process works on this store, so leases left by a crash can be freed at start. */
  singleNode: boolean;
  /**
   * Writes run synchronously on the calling thread (SQLite): the server hands its hot ingest commits
   * to the pipeline thread so that an fsync never stalls the event loop answering providers.
   */
  blockingWrites: boolean;
  /**
   * Write transactions take turns (SQLite's one write lock): an ingest commit waits behind a pipeline
   * transaction in progress, so the pipeline keeps its transactions short while ingest is active.
   */
  oneWriter: boolean;
}

export interface EventQuery {
  type?: string;
  recipient?: string;
  messageId?: string;
  sourceId?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: EventCursor;
}

/** Events are listed newest first by (occurred_at, id); the cursor is the last one returned. */
export interface EventCursor {
  occurredAt: number;
  id: string;
}

/**
 * Where an event sits in stored order: the order events were stored in, whatever their provider
 * timestamp. The live stream and `GET /v1/events?after=` follow it, so a late-reported (back-dated)
 * event is still seen. Positions compare as (tx, seq).
 *
 * - SQLite: `tx` is 0 and `seq` the row's rowid. SQLite has one writer at a time and gives a new row
 *   max(rowid) + 1, so rowids grow in commit order. That holds only while the event with the
 *   highest rowid is never deleted (its rowid would be given out again, behind a follower's position):
 *   whatever deletes events (retention) must keep the newest stored one. VACUUM keeps rowids (checked
 *   by test/contract/sqlite-stored-order.test.ts).
 * - PostgreSQL: `tx` is the id of the transaction that stored the row and `seq` an identity
 *   column; see migrations/postgres/009_event_sequence.sql for why a sequence alone is not enough.
 */
export interface EventPosition {
  tx: bigint;
  seq: bigint;
}

/** The filters stored order supports (those of the live stream). */
export type EventFilter = Pick<EventQuery, 'type' | 'recipient' | 'messageId' | 'sourceId'>;

export interface StoredEvent {
  position: EventPosition;
  event: CanonicalEvent;
}

export interface EventFeed {
  /** Matching events, in stored order. */
  items: StoredEvent[];
  /** Where to continue: the last item, or past every event the call examined (matching or not). */
  next: EventPosition;
  /** The call stopped at its limit: more may follow `next` at once. */
  more: boolean;
  /** The `excluding` to pass on with `next`; absent once no event after `next` can be excluded. */
  excluding?: string;
}

/**
 * Where a follower that starts now begins (`Store.startEventFeed`). On PostgreSQL stored order is
 * settled only below the oldest transaction running anywhere on the server, so `position` can lie
 * before events committed before now; `excluding` (opaque, a snapshot taken with `position`) names
 * them, and eventsAfter passes over them silently while its caller hands it on.
 */
export interface FeedStart {
  position: EventPosition;
  excluding?: string;
}

export interface FeedOptions {
  /** From FeedStart, then from each EventFeed: events committed when the feed started are skipped. */
  excluding?: string;
}

export interface Page<T, C> {
  items: T[];
  next: C | null;
}

export interface InboxQuery {
  status?: InboxStatus;
  sourceId?: string;
  limit: number;
  /** Id of the last row returned; rows are listed newest first. */
  cursor?: string;
}

export interface RequeueSelector {
  ids?: string[];
  status?: Exclude<InboxStatus, 'pending'>;
  sourceId?: string;
  since?: Date;
  until?: Date;
}

/** `not_found`: unknown or already revoked; `last`: refused, it is the only active key. */
export type RevokeResult = 'revoked' | 'not_found' | 'last';

export interface ApiKeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: Date;
}

export type InboxCounts = Record<InboxStatus, number>;

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly capabilities: StoreCapabilities;
  /** Applies pending numbered migrations under a lock; returns the versions it applied. */
  migrate(): Promise<number[]>;
  /** Cheap round trip for readiness checks; throws when the store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;

  createSource(source: SourceRecord): Promise<void>;
  /** Null for unknown and deleted sources alike. */
  getSource(id: string): Promise<SourceRecord | null>;
  listSources(): Promise<SourceRecord[]>;
  updateSource(id: string, patch: SourcePatch, now: Date): Promise<SourceRecord | null>;
  /** Merges keys into the source's state. */
  updateSourceState(id: string, state: Record<string, unknown>, now: Date): Promise<void>;
  /** Soft delete: the source stops receiving; its events and inbox rows stay. */
  deleteSource(id: string, now: Date): Promise<boolean>;

  /**
   * Appends verified raw requests in ONE durable transaction (the ingest group commit). One-time
   * tokens are bound in the same transaction, and a row replaying a token bound to another body is
   * left out and named in the result. With `inline`, the rows are also processed in that transaction
   * when the pipeline is caught up.
   */
  appendInbox(rows: InboxInsert[], inline?: InlineProcessing): Promise<AppendResult>;
  getInboxRow(id: string): Promise<InboxRow | null>;
  listInbox(query: InboxQuery): Promise<Page<InboxRow, string>>;
  countInbox(): Promise<InboxCounts>;
  /** Marks matching processed/quarantined rows pending again; returns how many. */
  requeueInbox(selector: RequeueSelector): Promise<number>;
  /**
   * Claims up to `limit` pending rows and, in ONE transaction, applies what `plan` (pure, synchronous)
   * decides for them: inserts events (a duplicate per source + dedup key is skipped and counted) and
   * marks each row processed or quarantined. Rows claimed by another worker are skipped. With `route`,
   * each newly inserted event gets one delivery per endpoint `route` picks (fan-out), in the same
   * transaction; duplicates get none.
   */
  processInbox(
    limit: number,
    plan: (rows: InboxRow[]) => RowOutcome[],
    effects?: EventEffects,
    now?: Date,
  ): Promise<BatchSummary>;
  /**
   * Stores published events with the same effects as provider events, in one transaction. An event
   * whose (source, dedup key) exists already is not stored again: the stored one is returned.
   */
  publishEvents(
    events: PublishedEvent[],
    effects: EventEffects,
    now: Date,
  ): Promise<Array<{ event: CanonicalEvent; created: boolean }>>;
  /** Every event of a message (unordered). */
  listMessageEvents(messageId: string, limit: number): Promise<CanonicalEvent[]>;
  /** A recipient's most recent events, newest first. */
  listRecipientEvents(recipient: string, limit: number): Promise<CanonicalEvent[]>;
  eventStats(query: StatsQuery): Promise<StatsRow[]>;

  operationalCounts(now: Date): Promise<OperationalCounts>;
  /** Hourly attempts (total, ok, mean duration) of an endpoint since a time. */
  endpointHistory(endpointId: string, since: Date): Promise<HourBucket[]>;
  /** Hourly stored requests of a source (ok = not quarantined) since a time. */
  sourceHistory(sourceId: string, since: Date): Promise<HourBucket[]>;

  getSuppressions(email: string): Promise<SuppressionEntry[]>;
  /** Entries for many addresses in one round trip (keys are the normalised addresses). */
  checkSuppressions(emails: string[]): Promise<Map<string, SuppressionEntry[]>>;
  listSuppressions(
    query: SuppressionQuery,
  ): Promise<Page<SuppressionEntry, [number, string, string, string]>>;
  addSuppression(entry: SuppressionEntry): Promise<void>;
  /** Removes an address's entries (of one scope/reason when given); returns how many. */
  removeSuppressions(email: string, filter: { scope?: string; reason?: string }): Promise<number>;

  getEvent(id: string): Promise<CanonicalEvent | null>;
  listEvents(query: EventQuery): Promise<Page<CanonicalEvent, EventCursor>>;
  /**
   * Events stored after `after`, in stored order, matching `filter`: at most `limit`, from a bounded
   * number of rows examined. Passing `next` on from call to call yields every event stored after the
   * first position exactly once, however late it was stored and whatever its timestamp. Null when
   * `after` lies beyond every position this store has given out (another database's, or forged).
   */
  eventsAfter(
    after: EventPosition,
    limit: number,
    filter?: EventFilter,
    options?: FeedOptions,
  ): Promise<EventFeed | null>;
  /**
   * A position at the end of settled stored order: following from it yields every event stored from
   * now on, and on PostgreSQL also those committed since the oldest running transaction began.
   */
  latestEventPosition(): Promise<EventPosition>;
  /** Where to follow exactly the events stored from now on: see FeedStart. */
  startEventFeed(): Promise<FeedStart>;
  /** The position of a stored event; null when unknown (or, on PostgreSQL, not yet in stored order). */
  eventPosition(id: string): Promise<EventPosition | null>;
  countEvents(): Promise<number>;

  createEndpoint(endpoint: EndpointRecord): Promise<void>;
  /** Null for unknown and deleted endpoints. */
  getEndpoint(id: string): Promise<EndpointRecord | null>;
  listEndpoints(): Promise<EndpointRecord[]>;
  updateEndpoint(id: string, patch: EndpointPatch, now: Date): Promise<EndpointRecord | null>;
  /** Soft delete; its pending deliveries end as failed. */
  deleteEndpoint(id: string, now: Date): Promise<boolean>;

  /** Inserts deliveries, skipping existing ones (same event, endpoint and dedupe); returns how many. */
  createDeliveries(deliveries: NewDelivery[], now: Date): Promise<number>;
  claimDueDeliveries(options: FairClaimOptions): Promise<ClaimedDelivery[]>;
  releaseDeliveries(items: Array<{ id: string; owner: string; notBefore: Date }>): Promise<void>;
  /** Frees every lease (only for single-node stores, at start, after a crash). */
  releaseAllLeases(): Promise<number>;
  /**
   * Records attempts and applies their outcomes, fenced on the lease owner, in one transaction;
   * returns the endpoint health transitions they caused (failing, disabled, recovered, exhausted).
   */
  recordAttempts(results: AttemptResult[], now: Date, options?: RecordOptions): Promise<EndpointTransition[]>;
  getDelivery(id: string): Promise<DeliveryRecord | null>;
  listDeliveries(query: DeliveryQuery): Promise<Page<DeliveryRecord, string>>;
  listAttempts(deliveryId: string): Promise<AttemptRecord[]>;
  listAttemptSamples(endpointId: string, since: Date): Promise<AttemptSample[]>;
  /**
   * Makes a delivery due now (manual retry). Refused while an attempt holds its lease (a second,
   * parallel attempt could overwrite that attempt's result) and when its endpoint was deleted.
   */
  retryDelivery(id: string, now: Date): Promise<RetryResult>;

  createReplay(replay: ReplayRecord): Promise<void>;
  getReplay(id: string): Promise<ReplayRecord | null>;
  runningReplays(): Promise<string[]>;
  /** Enqueues the next page of a running replay; returns its progress. */
  advanceReplay(id: string, pageSize: number, select: ReplaySelect, now: Date): Promise<ReplayRecord | null>;

  addApiKey(key: ApiKeyRecord): Promise<void>;
  /** Adds the key only when no live key exists (first start), atomically across nodes; true when added. */
  addFirstApiKey(key: ApiKeyRecord): Promise<boolean>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  countApiKeys(): Promise<number>;
  /** Keys not revoked, oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /**
   * Revokes a key for good, unless it is the last active one (nobody could manage the server
   * afterwards): checked and done atomically, so concurrent revocations on any node cannot leave none.
   */
  revokeApiKey(id: string, now: Date): Promise<RevokeResult>;

  /**
   * Deletes up to `limit` expired rows of one table (retention.ts says what expires) in one short
   * transaction; returns how many. PostgreSQL: 0 while another node holds the pruning turn.
   */
  pruneBatch(table: PrunedTable, cutoffs: RetentionCutoffs, limit: number): Promise<number>;
  /**
   * Makes the space of deleted rows reusable where that does not happen by itself (PostgreSQL with
   * autovacuum off: a VACUUM of each table); SQLite reuses freed pages as it goes.
   */
  reclaim(tables: PrunedTable[]): Promise<void>;
  /** Creates a reconciliation job, unless one is running for that source: then that one is returned. */
  createReconciliation(job: ReconcileJob): Promise<CreateReconcileResult>;
  getReconciliation(id: string): Promise<ReconcileJob | null>;
  /** A source's jobs, newest first. */
  listReconciliations(sourceId: string, limit: number): Promise<ReconcileJob[]>;
  /** The oldest running job whose lease is free or expired, leased to `owner` for `leaseMs`. */
  claimReconciliation(owner: string, now: Date, leaseMs: number): Promise<ReconcileJob | null>;
  /** Saves a page's progress and extends the lease; false when `owner` lost the job. */
  saveReconciliation(
    id: string,
    owner: string,
    progress: ReconcileProgress,
    now: Date,
    leaseMs: number,
  ): Promise<boolean>;
  finishReconciliation(
    id: string,
    owner: string,
    outcome: { status: 'done' | 'failed'; error: string | null },
    now: Date,
  ): Promise<boolean>;
  /** Records that mailhook is running at `now`; returns when it was last seen before (null: never). */
  heartbeat(now: Date): Promise<Date | null>;
  /** The time of each table's oldest kept row (null: empty), for /metrics. */
  oldestKept(): Promise<Record<PrunedTable, Date | null>>;
}
