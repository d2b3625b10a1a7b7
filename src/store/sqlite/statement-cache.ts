import type Database from 'better-sqlite3';

/**
 * Makes `db.prepare` return a cached statement for SQL it has seen before. Compiling a statement
 * costs more than running most of ours, and the hot paths (ingest commits, pipeline batches,
 * delivery claims) prepare the same few strings thousands of times a second. Patching the
 * connection keeps every call site as it is. Safe because no caller changes a statement's mode
 * (pluck/raw/expand), binds it permanently or iterates it: each use runs to completion.
 * Least-recently-used eviction bounds the cache, since filtered queries build their SQL.
 */
export function cacheStatements(db: Database.Database, max = 500): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  const cached = (source: string): Database.Statement => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    }
    cache.set(source, statement);
    return statement;
  };
  db.prepare = cached as Database.Database['prepare'];
}
