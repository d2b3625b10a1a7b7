import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { pipelineEffects } from '../../../src/pipeline/effects.js';
import { PipelineRunner } from '../../../src/pipeline/runner.js';
import { DurabilityError } from '../../../src/store/durability.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { InboxInsert } from '../../../src/store/store.js';
import { postmarkDeliveryRow } from '../../helpers/postmark-row.js';

let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailhook-runner-inline-'));
  store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  await store.migrate();
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const row = (): InboxInsert => postmarkDeliveryRow('src_inline', newId('event'));

describe('PipelineRunner.append', () => {
  it('stores groups pending when inline processing is off (the default)', async () => {
    const runner = new PipelineRunner({ store, logger: pino({ level: 'silent' }), pollMs: 60_000 });
    runner.start();
    try {
      await runner.append([row()]);
      expect((await store.countInbox()).processed).toBe(0);
    } finally {
      await runner.stop();
    }
  });

  it('processes a caught-up group in its own commit when inline processing is on and the runner runs', async () => {
    const batches: number[] = [];
    const runner = new PipelineRunner({
      store,
      logger: pino({ level: 'silent' }),
      pollMs: 60_000,
      inline: true,
    });
    runner.onBatch = (summary) => batches.push(summary.inserted);
    // Not running (paused): pending, whatever the setting.
    await runner.append([row()]);
    expect(await store.countInbox()).toMatchObject({ pending: 1, processed: 0 });
    await runner.runUntilIdle();
    runner.start();
    try {
      await runner.append([row(), row()]);
      expect(await store.countInbox()).toMatchObject({ pending: 0, processed: 3 });
      expect(batches).toContain(2);
    } finally {
      await runner.stop();
    }
  });

  it('refuses a group whose commit could not be made durable instead of storing it again pending', async () => {
    const failing = new SqliteStore({
      filename: join(dir, 'failing.db'),
      syncFile: async () => {
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
    });
    await failing.migrate();
    const effects = pipelineEffects();
    // Attempts in flight: the commit leaves its sync to the WAL's group sync, which fails.
    effects.handOff = { busy: () => true, reserve: () => null, accept: () => {}, release: () => {} };
    const logged: string[] = [];
    const runner = new PipelineRunner({
      store: failing,
      logger: pino({ level: 'warn' }, { write: (line: string) => logged.push(line) }),
      pollMs: 60_000,
      inline: true,
      effects,
    });
    runner.start();
    try {
      await expect(runner.append([row()])).rejects.toBeInstanceOf(DurabilityError);
      // One row, processed by the commit that could not be synced; no second copy pending.
      expect(await failing.countInbox()).toMatchObject({ pending: 0, processed: 1 });
      // Not mistaken for a processing failure that the pipeline could deal with.
      expect(logged.join('')).not.toContain('inline processing failed');
    } finally {
      await runner.stop();
      await failing.close();
    }
  });
});
