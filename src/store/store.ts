import type { CanonicalEvent } from '../events.js';

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

export interface ApiKeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: Date;
}

export type InboxCounts = Record<InboxStatus, number>;

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
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
  /** Soft delete: the source stops receiving; its events and inbox rows stay. */
  deleteSource(id: string, now: Date): Promise<boolean>;

  /** Appends verified raw requests in ONE durable transaction (the ingest group commit). */
  appendInbox(rows: InboxInsert[]): Promise<void>;
  getInboxRow(id: string): Promise<InboxRow | null>;
  listInbox(query: InboxQuery): Promise<Page<InboxRow, string>>;
  countInbox(): Promise<InboxCounts>;
  /** Marks matching processed/quarantined rows pending again; returns how many. */
  requeueInbox(selector: RequeueSelector): Promise<number>;
  /**
   * Claims up to `limit` pending rows and, in ONE transaction, applies what `plan` (pure, synchronous)
   * decides for them: inserts events (a duplicate per source + dedup key is skipped and counted) and
   * marks each row processed or quarantined. Rows claimed by another worker are skipped.
   */
  processInbox(limit: number, plan: (rows: InboxRow[]) => RowOutcome[]): Promise<BatchSummary>;

  getEvent(id: string): Promise<CanonicalEvent | null>;
  listEvents(query: EventQuery): Promise<Page<CanonicalEvent, EventCursor>>;
  countEvents(): Promise<number>;

  addApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  countApiKeys(): Promise<number>;
}
