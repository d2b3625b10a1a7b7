import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';
import { WAL_SIZE_LIMIT_BYTES } from '../../../src/store/sqlite/connection.js';
import { postmarkDeliveryRow } from '../../helpers/postmark-row.js';

/**
 * A reader that holds a checkpoint back (a backup, a long API read) lets the WAL grow past its usual
 * 4 MB. SQLite keeps the file at its largest size unless `journal_size_limit` is set: the store cuts
 * it back once the reader is gone and the WAL starts over (docs/backup.md promises it shrinks).
 */

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const walSize = (filename: string) => statSync(`${filename}-wal`).size;

describe('the SQLite WAL after a held-back checkpoint', () => {
  it('grows while a reader holds its snapshot, and is cut back to the limit after it lets go', async () => {
    const root = mkdtempSync(join(tmpdir(), 'mailhook-wal-'));
    roots.push(root);
    const filename = join(root, 'mailhook.db');
    const store = new SqliteStore({ filename });
    const reader = new Database(filename, { readonly: true });
    try {
      await store.migrate();
      reader.exec('BEGIN');
      reader.prepare('SELECT COUNT(*) FROM inbox').get();

      // 64 KB bodies in groups of 16: about 1.5 × the limit while the snapshot stands.
      const body = 'x'.repeat(64 * 1024);
      const append = async (groups: number) => {
        for (let g = 0; g < groups; g++) {
          const rows = Array.from({ length: 16 }, (_, i) => {
            const row = postmarkDeliveryRow('src_wal', `msg-${g}-${i}`);
            return {
              ...row,
              body: Buffer.from(JSON.stringify({ ...JSON.parse(row.body.toString()), body })),
            };
          });
          await store.appendInbox(rows);
        }
      };
      const groups = Math.ceil((1.5 * WAL_SIZE_LIMIT_BYTES) / (16 * 64 * 1024));
      await append(groups);
      const held = walSize(filename);
      expect(held, 'the WAL while the reader held its snapshot').toBeGreaterThan(WAL_SIZE_LIMIT_BYTES);

      reader.exec('COMMIT');
      // The next commits pass the checkpoint threshold, the checkpoint completes, the WAL starts over.
      await append(2);
      await append(groups);
      expect(walSize(filename), 'the WAL once nothing holds it').toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    } finally {
      reader.close();
      await store.close();
    }
  });
});
