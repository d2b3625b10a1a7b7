import type Database from 'better-sqlite3';
import { revocationOf, type SourceRow, sourceFrom } from '../rows.js';
import type { ApiKeyRecord, RevokeResult, SourcePatch, SourceRecord } from '../store.js';

/** Sources and API keys for SQLite (synchronous). */

export function createSource(db: Database.Database, source: SourceRecord): void {
  db.prepare(
    `INSERT INTO sources (id, name, provider, config, enabled, state, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
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

export function getSource(db: Database.Database, id: string): SourceRecord | null {
  const row = db
    .prepare<[string], SourceRow>('SELECT * FROM sources WHERE id = ? AND deleted_at IS NULL')
    .get(id);
  return row ? sourceFrom(row) : null;
}

export function listSources(db: Database.Database): SourceRecord[] {
  return db
    .prepare<[], SourceRow>('SELECT * FROM sources WHERE deleted_at IS NULL ORDER BY id')
    .all()
    .map(sourceFrom);
}

export function updateSource(
  db: Database.Database,
  id: string,
  patch: SourcePatch,
  now: Date,
): SourceRecord | null {
  const result = db
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
  return result.changes === 0 ? null : getSource(db, id);
}

export function updateSourceState(
  db: Database.Database,
  id: string,
  state: Record<string, unknown>,
  now: Date,
): void {
  db.prepare('UPDATE sources SET state = json_patch(state, ?), updated_at = ? WHERE id = ?').run(
    JSON.stringify(state),
    now.getTime(),
    id,
  );
}

export function deleteSource(db: Database.Database, id: string, now: Date): boolean {
  const result = db
    .prepare('UPDATE sources SET deleted_at = ?, enabled = 0 WHERE id = ? AND deleted_at IS NULL')
    .run(now.getTime(), id);
  return result.changes > 0;
}

export function addApiKey(db: Database.Database, key: ApiKeyRecord): void {
  db.prepare(
    'INSERT INTO api_keys (id, name, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING',
  ).run(key.id, key.name, key.hash, key.createdAt.getTime());
}

export function findApiKeyByHash(db: Database.Database, hash: string): ApiKeyRecord | null {
  const row = db
    .prepare<[string], { id: string; name: string; hash: string; created_at: number }>(
      'SELECT id, name, hash, created_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL',
    )
    .get(hash);
  return row ? { id: row.id, name: row.name, hash: row.hash, createdAt: new Date(row.created_at) } : null;
}

export function addFirstApiKey(db: Database.Database, key: ApiKeyRecord): boolean {
  const result = db
    .prepare(
      `INSERT INTO api_keys (id, name, hash, created_at)
       SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)`,
    )
    .run(key.id, key.name, key.hash, key.createdAt.getTime());
  return result.changes === 1;
}

export function countApiKeys(db: Database.Database): number {
  return (
    db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL').get()?.n ?? 0
  );
}

export function listApiKeys(db: Database.Database): ApiKeyRecord[] {
  return db
    .prepare<[], { id: string; name: string; hash: string; created_at: number }>(
      'SELECT id, name, hash, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id',
    )
    .all()
    .map((row) => ({ id: row.id, name: row.name, hash: row.hash, createdAt: new Date(row.created_at) }));
}

export function revokeApiKey(db: Database.Database, id: string, now: Date): RevokeResult {
  return db
    .transaction((): RevokeResult => {
      const live = db.prepare<[], { id: string }>('SELECT id FROM api_keys WHERE revoked_at IS NULL').all();
      const result = revocationOf(
        live.map((key) => key.id),
        id,
      );
      if (result === 'revoked')
        db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(now.getTime(), id);
      return result;
    })
    .immediate();
}
