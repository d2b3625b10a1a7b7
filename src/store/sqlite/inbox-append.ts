import type Database from 'better-sqlite3';
import type { AppendResult, InboxInsert } from '../store.js';

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

const INSERT_ROW = `
  INSERT INTO inbox (id, source_id, provider, received_at, method, path, query, headers, body)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The ingest group commit on SQLite: one transaction for the whole group. */
export function appendInboxRows(db: Database.Database, rows: InboxInsert[]): AppendResult {
  const replayed: string[] = [];
  if (rows.length === 0) return { replayed };
  const insert = db.prepare(INSERT_ROW);
  const bind = db.prepare<unknown[], { body_hash: string }>(BIND_TOKEN);
  db.transaction(() => {
    let bound = 0;
    let latest = 0;
    for (const row of rows) {
      const now = row.receivedAt.getTime();
      latest = Math.max(latest, now);
      if (row.oneTimeToken) {
        const { token, bodyHash, expiresAt } = row.oneTimeToken;
        const kept = bind.get(row.sourceId, token, bodyHash, expiresAt.getTime(), now, now);
        bound++;
        if (kept?.body_hash !== bodyHash) {
          replayed.push(row.id);
          continue;
        }
      }
      insert.run(
        row.id,
        row.sourceId,
        row.provider,
        now,
        row.method,
        row.path,
        row.query,
        JSON.stringify(row.headers),
        row.body,
      );
    }
    if (bound > 0) db.prepare(PRUNE_TOKENS).run(latest, bound * 2 + 100);
  })();
  return { replayed };
}
