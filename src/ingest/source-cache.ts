import type { SourceRecord, Store } from '../store/store.js';

/**
 * Ingest looks its source up on every request; a short-lived cache keeps that off the database.
 * Changes made through this process's API invalidate it at once; other nodes see them within `ttlMs`.
 */
export class SourceCache {
  private readonly entries = new Map<string, { source: SourceRecord | null; expires: number }>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 2000,
  ) {}

  async get(id: string, now = Date.now()): Promise<SourceRecord | null> {
    const hit = this.entries.get(id);
    if (hit && hit.expires > now) return hit.source;
    const source = await this.store.getSource(id);
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(id, { source, expires: now + this.ttlMs });
    return source;
  }

  invalidate(id?: string): void {
    if (id === undefined) this.entries.clear();
    else this.entries.delete(id);
  }
}
