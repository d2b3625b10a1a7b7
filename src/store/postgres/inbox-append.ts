import type { AppendResult, InboxInsert } from '../store.js';
import type { Queryable, Sql } from './connection.js';

function inboxValues(rows: InboxInsert[]) {
  return rows.map((r) => ({
    id: r.id,
    source_id: r.sourceId,
    provider: r.provider,
    received_at: r.receivedAt.getTime(),
    method: r.method,
    path: r.path,
    query: r.query,
    headers: JSON.stringify(r.headers),
    body: r.body,
  }));
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

/** The ingest group commit on PostgreSQL: one statement when no row carries a token, else one transaction. */
export async function appendInboxRows(sql: Sql, rows: InboxInsert[]): Promise<AppendResult> {
  const replayed: string[] = [];
  if (rows.length === 0) return { replayed, processed: null, pending: 0 };
  if (!rows.some((row) => row.oneTimeToken)) {
    await sql`INSERT INTO inbox ${sql(inboxValues(rows))}`;
    return { replayed, processed: null, pending: rows.length };
  }
  await sql.begin(async (tx) => {
    const kept: InboxInsert[] = [];
    let bound = 0;
    for (const row of rows) {
      if (row.oneTimeToken) bound++;
      if (await bindToken(tx, row)) kept.push(row);
      else replayed.push(row.id);
    }
    if (kept.length > 0) await tx`INSERT INTO inbox ${tx(inboxValues(kept))}`;
    // Each commit that binds n tokens removes up to 2n + 100 expired ones (by the requests' clock), so
    // pruning keeps pace.
    await tx`
      DELETE FROM signature_tokens WHERE (source_id, token) IN (
        SELECT source_id, token FROM signature_tokens
        WHERE expires_at <= ${Math.max(...rows.map((row) => row.receivedAt.getTime()))}
        LIMIT ${bound * 2 + 100} FOR UPDATE SKIP LOCKED)`;
  });
  return { replayed, processed: null, pending: rows.length - replayed.length };
}
