import { emptySummary } from '../effects.js';
import { HandedDeliveries, tracesOf } from '../hand-off.js';
import { rawHolder, storedInboxBody } from '../inbox-raw.js';
import { pendingRowOf, storedInboxPath } from '../rows.js';
import type { AppendResult, InboxInsert, InlineProcessing } from '../store.js';
import { parameterChunks, type Queryable, type Sql } from './connection.js';
import { type InboxMark, writeOutcomes } from './event-writer.js';

function inboxValue(r: InboxInsert) {
  return {
    id: r.id,
    source_id: r.sourceId,
    provider: r.provider,
    received_at: r.receivedAt.getTime(),
    method: r.method,
    path: storedInboxPath(r),
    query: r.query,
    headers: JSON.stringify(r.headers),
    body: r.body,
    trace: r.trace ?? null,
  };
}

/**
 * Keeps the body hash already bound unless that binding has expired. ON CONFLICT DO UPDATE locks the
 * row, so two nodes binding the same token at once are serialised and the second sees the first's hash.
 */
async function bindToken(sql: Queryable, row: InboxInsert): Promise<boolean> {
  const claim = row.oneTimeToken;
  if (!claim) return true;
  const now = row.receivedAt.getTime();
  const [kept] = await sql<{ body_hash: string }[]>`
    INSERT INTO signature_tokens (source_id, token, body_hash, expires_at)
    VALUES (${row.sourceId}, ${claim.token}, ${claim.bodyHash}, ${claim.expiresAt.getTime()})
    ON CONFLICT (source_id, token) DO UPDATE SET
      body_hash = CASE WHEN signature_tokens.expires_at <= ${now}
                       THEN excluded.body_hash ELSE signature_tokens.body_hash END,
      expires_at = CASE WHEN signature_tokens.expires_at <= ${now}
                        THEN excluded.expires_at ELSE signature_tokens.expires_at END
    RETURNING body_hash`;
  return kept?.body_hash === claim.bodyHash;
}

/** The row as stored, pending or already processed (inline) with what processing found. */
function inboxRecord(row: InboxInsert, mark: InboxMark | undefined, now: number) {
  const holder = rawHolder(row.body, mark?.stored ?? null);
  return {
    ...inboxValue(row),
    body: storedInboxBody(row.body, holder),
    raw_event: holder,
    status: mark ? mark.status : 'pending',
    attempts: mark ? 1 : 0,
    error: mark?.error ?? null,
    notes: mark?.notes ?? null,
    event_count: mark?.eventCount ?? 0,
    duplicate_count: mark?.duplicateCount ?? 0,
    processed_at: mark ? now : null,
  };
}

/**
 * The ingest group commit on PostgreSQL: one statement when no row carries a token and nothing is to
 * be processed inline, else one transaction, which also processes the rows when `inline` is given and
 * no older row is pending (on any node).
 */
export async function appendInboxRows(
  sql: Sql,
  rows: InboxInsert[],
  inline?: InlineProcessing,
): Promise<AppendResult> {
  const result: AppendResult = { replayed: [], processed: null, pending: 0 };
  if (rows.length === 0) return result;
  if (!inline && !rows.some((row) => row.oneTimeToken)) {
    for (const chunk of parameterChunks(rows.map(inboxValue))) await sql`INSERT INTO inbox ${sql(chunk)}`;
    result.pending = rows.length;
    return result;
  }
  await HandedDeliveries.around(inline?.effects.handOff, (handed) =>
    sql.begin(async (tx) => {
      const kept: InboxInsert[] = [];
      let bound = 0;
      for (const row of rows) {
        if (row.oneTimeToken) bound++;
        if (await bindToken(tx, row)) kept.push(row);
        else result.replayed.push(row.id);
      }
      if (bound > 0) {
        // Each commit that binds n tokens removes up to 2n + 100 expired ones (by the requests' clock),
        // so pruning keeps pace.
        await tx`
        DELETE FROM signature_tokens WHERE (source_id, token) IN (
          SELECT source_id, token FROM signature_tokens
          WHERE expires_at <= ${Math.max(...rows.map((row) => row.receivedAt.getTime()))}
          LIMIT ${bound * 2 + 100} FOR UPDATE SKIP LOCKED)`;
      }
      if (kept.length === 0) return;
      const marks = new Map<string, InboxMark>();
      const now = inline?.now.getTime() ?? 0;
      const [older] = inline ? await tx`SELECT 1 FROM inbox WHERE status = 'pending' LIMIT 1` : [];
      if (inline && !older) {
        // What the plan could not process goes the usual way: pending, for the pipeline to retry or
        // quarantine (a parser bug must never refuse a verified request).
        const processed = inline
          .plan(kept.map(pendingRowOf))
          .filter((outcome) => outcome.kind === 'processed');
        if (processed.length > 0) {
          const summary = emptySummary();
          summary.rows = processed.length;
          const written = await writeOutcomes(
            tx,
            processed,
            inline.effects,
            now,
            summary,
            tracesOf(kept),
            handed,
          );
          for (const mark of written) marks.set(mark.id, mark);
          result.processed = summary;
        }
      }
      const records = kept.map((row) => inboxRecord(row, marks.get(row.id), now));
      for (const chunk of parameterChunks(records)) await tx`INSERT INTO inbox ${tx(chunk)}`;
      result.pending = kept.length - marks.size;
    }),
  );
  return result;
}
