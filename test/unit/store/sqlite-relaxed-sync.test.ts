import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { AttemptResult, Store } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';

/**
 * Delivery bookkeeping runs with synchronous=NORMAL on the connection that also takes ingest
 * commits; everything else on it must stay FULL, whatever happens inside.
 */
const FULL = 2;
const NORMAL = 1;

let dir: string;
let store: SqliteStore;
const syncOf = (s: SqliteStore) =>
  (s as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailhook-sync-'));
  store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  await store.migrate();
  await store.createEndpoint(endpointRecord());
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite delivery bookkeeping without its own fsync', () => {
  it('claims with synchronous=NORMAL and returns the connection to FULL', async () => {
    expect(syncOf(store)).toBe(FULL);
    const seen: number[] = [];
    await (store as Store).claimDueDeliveries({
      owner: 'w_test',
      now: new Date(),
      leaseMs: 30_000,
      limit: 10,
      // Called inside the claim's transaction even when nothing is due (then with no endpoint).
      plan: () => {
        seen.push(syncOf(store) as number);
      },
      slots: () => 10,
    });
    expect(seen).toEqual([NORMAL]);
    expect(syncOf(store)).toBe(FULL);
  });

  it('returns to FULL when recording attempts fails', async () => {
    const broken = {
      attempt: { id: 'a', deliveryId: 'd', endpointId: 'e', attempt: 1, startedAt: new Date(Number.NaN) },
    } as unknown as AttemptResult;
    await expect(store.recordAttempts([broken], new Date())).rejects.toThrow();
    expect(syncOf(store)).toBe(FULL);
  });

  it('leaves a store opened with NORMAL as it is', async () => {
    const relaxed = new SqliteStore({ filename: join(dir, 'other.db'), synchronous: 'NORMAL' });
    await relaxed.migrate();
    await relaxed.createEndpoint(endpointRecord());
    // A claim goes through the bookkeeping path (an empty recordAttempts would return before it).
    const seen: number[] = [];
    await (relaxed as Store).claimDueDeliveries({
      owner: 'w_test',
      now: new Date(),
      leaseMs: 30_000,
      limit: 10,
      // Called inside the claim's transaction even when nothing is due (then with no endpoint).
      plan: () => {
        seen.push(syncOf(relaxed) as number);
      },
      slots: () => 10,
    });
    expect(seen).toEqual([NORMAL]);
    expect(syncOf(relaxed)).toBe(NORMAL);
    await relaxed.close();
  });
});
