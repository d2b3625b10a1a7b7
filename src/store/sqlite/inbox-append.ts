import type Database from 'better-sqlite3';
import { emptySummary } from '../effects.js';
import { HandedDeliveries, tracesOf } from '../hand-off.js';
import { rawHolder, storedInboxBody } from '../inbox-raw.js';
import { pendingRowOf, storedInboxPath } from '../rows.js';
import type { AppendResult, InboxInsert, InlineProcessing } from '../store.js';
import { idBytes } from '../stored-id.js';
import { effectsContext, writeOutcomes } from './event-writer.js';
import { ensureSourceKeys, SOURCE_KEY } from './source-keys.js';

/**
 * Binding a token keeps the body hash already there unless that binding has expired. One statement,
 * so the check and the write cannot be split by another writer.
 */
const BIND_TOKEN = `
  INSERT INTO signature_tokens (source_id, token, body_hash, expires_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (source_id, token) DO UPDATE SET
    body_hash = CASE WHEN signature_tokens.expires_at <= ? THEN excluded.body_hash ELSE signature_tokens.body_hash END,
    expires_at = CASE WHEN signature_tokens.expires_at <= ? THEN excluded.expires_at ELSE signature_tokens.expires_at END
  RETURNING body_hash`;

/**
 * Each commit that binds n tokens removes up to 2n + 100 expired ones, so pruning keeps pace. Expired
 * means by the requests' own clock, the one their bindings were checked against.
 */
const PRUNE_TOKENS = `
  DELETE FROM signature_tokens WHERE (source_id, token) IN (
    SELECT source_id, token FROM signature_tokens WHERE expires_at <= ? LIMIT ?)`;

/** Rows older than the group still waiting for the pipeline: then the group waits too, in order. */
const ANY_PENDING = "SELECT 1 FROM inbox WHERE status = 'pending' LIMIT 1";

const INSERT_ROW = `
  INSERT INTO inbox (id, source_key, provider, received_at, method, path, query, headers, body, trace)
  VALUES (?, ${SOURCE_KEY}, ?, ?, ?, ?, ?, ?, ?, ?)`;

const INSERT_PROCESSED = `
  INSERT INTO inbox (id, source_key, provider, received_at, method, path, query, headers, body, trace,
                     status, attempts, notes, event_count, duplicate_count, processed_at, raw_event)
  VALUES (?, ${SOURCE_KEY}, ?, ?, ?, ?, ?, ?, ?, ?, 'processed', 1, ?, ?, ?, ?, ?)`;

function rowParams(row: InboxInsert, holder: string | null = null) {
  return [
    idBytes(row.id, 'in'),
    row.sourceId,
    row.provider,
    row.receivedAt.getTime(),
    row.method,
    storedInboxPath(row),
    row.query,
    JSON.stringify(row.headers),
    storedInboxBody(row.body, holder),
    row.trace ?? null,
  ] as const;
}

/** Binds the rows' one-time tokens; returns the rows to store and the ids of those that replay one. */
function bindTokens(db: Database.Database, rows: InboxInsert[]): { kept: InboxInsert[]; replayed: string[] } {
  const bind = db.prepare<unknown[], { body_hash: string }>(BIND_TOKEN);
  const kept: InboxInsert[] = [];
  const replayed: string[] = [];
  let bound = 0;
  let latest = 0;
  for (const row of rows) {
    const now = row.receivedAt.getTime();
    latest = Math.max(latest, now);
    if (row.oneTimeToken) {
      const { token, bodyHash, expiresAt } = row.oneTimeToken;
      const held = bind.get(row.sourceId, token, bodyHash, expiresAt.getTime(), now, now);
      bound++;
      if (held?.body_hash !== bodyHash) {
        replayed.push(row.id);
        continue;
      }
    }
    kept.push(row);
  }
  if (bound > 0) db.prepare(PRUNE_TOKENS).run(latest, bound * 2 + 100);
  return { kept, replayed };
}

/**
 * The ingest group commit on SQLite: one transaction for the whole group, which also processes the
 * rows when `inline` is given and no older row is pending.
 */
export function appendInboxRows(
  db: Database.Database,
  rows: InboxInsert[],
  inline?: InlineProcessing,
): AppendResult {
  const result: AppendResult = { replayed: [], processed: null, pending: 0 };
  if (rows.length === 0) return result;
  const insertPending = db.prepare(INSERT_ROW);
  HandedDeliveries.around(inline?.effects.handOff, (handed) =>
    db
      .transaction(() => {
        const { kept, replayed } = bindTokens(db, rows);
        result.replayed = replayed;
        ensureSourceKeys(
          db,
          kept.map((row) => row.sourceId),
        );
        const caughtUp = inline && kept.length > 0 && !db.prepare(ANY_PENDING).get();
        if (!caughtUp) {
          for (const row of kept) insertPending.run(...rowParams(row));
          result.pending = kept.length;
          return;
        }
        const byId = new Map(kept.map((row) => [row.id, row]));
        const outcomes = inline.plan(kept.map(pendingRowOf));
        const processed = outcomes.filter((outcome) => outcome.kind === 'processed');
        // What the plan could not process goes the usual way: pending, for the pipeline to retry or
        // quarantine (a parser bug must never refuse a verified request).
        for (const outcome of outcomes) {
          const row = byId.get(outcome.inboxId);
          if (outcome.kind === 'processed' || !row) continue;
          insertPending.run(...rowParams(row));
          result.pending++;
        }
        if (processed.length === 0) return;
        const summary = emptySummary();
        summary.rows = processed.length;
        const now = inline.now.getTime();
        const insertProcessed = db.prepare(INSERT_PROCESSED);
        writeOutcomes(
          db,
          processed,
          effectsContext(db, inline.effects, now, handed),
          summary,
          {
            processed: (outcome, notes, inserted, duplicates, stored) => {
              const row = byId.get(outcome.inboxId);
              if (!row) return;
              const holder = rawHolder(row.body, stored);
              insertProcessed.run(
                ...rowParams(row, holder),
                notes,
                inserted,
                duplicates,
                now,
                idBytes(holder, 'evt'),
              );
            },
            quarantined: () => {},
          },
          tracesOf(kept),
        );
        result.processed = summary;
      })
      .immediate(),
  );
  return result;
}
