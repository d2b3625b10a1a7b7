import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';

/**
 * The data directory and the database files hold endpoint secrets and provider credentials: only
 * the user mailhook runs as may read them, whatever the umask.
 */

const roots: string[] = [];
const stores: SqliteStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'mailhook-modes-'));
  roots.push(root);
  return root;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

async function openWritten(filename: string): Promise<SqliteStore> {
  const store = new SqliteStore({ filename });
  stores.push(store);
  // Migrations write, so the -wal and -shm files exist while the store is open.
  await store.migrate();
  return store;
}

describe('SQLite file modes', () => {
  it('creates a fresh data directory 0700 and the database, -wal and -shm files 0600', async () => {
    const dataDir = join(tempRoot(), 'data');
    const filename = join(dataDir, 'mailhook.db');
    await openWritten(filename);
    expect(modeOf(dataDir).toString(8)).toBe('700');
    for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
      expect(existsSync(path), path).toBe(true);
      expect(modeOf(path).toString(8), path).toBe('600');
    }
  });

  it('keeps them so under a permissive umask', async () => {
    const previous = process.umask(0);
    try {
      const filename = join(tempRoot(), 'data', 'mailhook.db');
      await openWritten(filename);
      for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
        expect(modeOf(path).toString(8), path).toBe('600');
      }
    } finally {
      process.umask(previous);
    }
  });

  it('tightens database files an earlier version left world-readable', async () => {
    const dataDir = join(tempRoot(), 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    const filename = join(dataDir, 'mailhook.db');
    const first = await openWritten(filename);
    await first.close();
    for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
      if (!existsSync(path)) writeFileSync(path, '');
      chmodSync(path, 0o644);
    }
    await openWritten(filename);
    for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
      expect(modeOf(path).toString(8), path).toBe('600');
    }
    // A directory the operator made is left as it is (main.ts warns about it instead).
    expect(modeOf(dataDir).toString(8)).toBe('755');
  });
});
