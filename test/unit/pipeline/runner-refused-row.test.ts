import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { PipelineRunner } from '../../../src/pipeline/runner.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { InboxInsert, InboxRow, RowOutcome, Store } from '../../../src/store/store.js';
import { waitFor } from '../../helpers/process.js';

/**
 * A row the store refuses must not hold the pipeline back: the runner finds it and quarantines it,
 * and every other row is processed. Outages (failures before any row is claimed) blame no row.
 */

function sendGridRow(sourceId: string, n: number): InboxInsert {
  const body = JSON.stringify([
    { email: `r${n}@example.com`, event: 'delivered', sg_event_id: `sg_${n}`, timestamp: 1_795_176_000 + n },
  ]);
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'sendgrid',
    receivedAt: new Date(Date.now() + n),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(body),
  };
}

/** PostgreSQL's refusal of a NUL in TEXT: a data exception (SQLSTATE class 22). */
const dataRefusal = () =>
  Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });

/**
 * The real store, except that a transaction holding `refused` with events fails with `failure()`
 * (after the rows were claimed), and the first `outages.left` calls fail before claiming anything.
 */
function refusing(
  store: Store,
  refused: () => string | null,
  outages: { left: number },
  failure: () => Error = dataRefusal,
): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'processInbox') return Reflect.get(target, key, receiver);
      return (limit: number, plan: (rows: InboxRow[]) => RowOutcome[], ...rest: unknown[]) => {
        if (outages.left > 0) {
          outages.left--;
          return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
        }
        return target.processInbox(
          limit,
          (rows) => {
            const outcomes = plan(rows);
            const target = refused();
            const bad = outcomes.find((o) => o.inboxId === target && o.kind === 'processed');
            if (bad) throw failure();
            return outcomes;
          },
          ...(rest as []),
        );
      };
    },
  });
}

describe('PipelineRunner and a row the store refuses', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailhook-refused-'));
    store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
    await store.migrate();
  });

  /** Runs a pipeline over `through` until the real store has no pending row. */
  async function drain(through: Store): Promise<void> {
    const runner = new PipelineRunner({ store: through, logger: pino({ level: 'silent' }), pollMs: 20 });
    runner.start();
    try {
      await waitFor(
        'the inbox to drain',
        async () => ((await store.countInbox()).pending === 0 ? true : undefined),
        {
          timeoutMs: 20_000,
          intervalMs: 20,
        },
      );
    } finally {
      await runner.stop();
    }
  }

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('quarantines that row with the store error and processes every other row', async () => {
    const sourceId = newId('source');
    const rows = Array.from({ length: 30 }, (_, n) => sendGridRow(sourceId, n));
    await store.appendInbox(rows);
    const poisoned = rows[7]!.id;
    await drain(refusing(store, () => poisoned, { left: 0 }));
    expect(await store.countInbox()).toEqual({ pending: 0, processed: 29, quarantined: 1 });
    expect(await store.getInboxRow(poisoned)).toMatchObject({
      status: 'quarantined',
      error: expect.stringMatching(/^the store refused this row's events: invalid byte sequence/),
      eventCount: 0,
    });
    const events = await store.listEvents({ limit: 100 });
    expect(events.items).toHaveLength(29);
  });

  it('blames no row for a full disk at commit, however often it strikes after the claim', async () => {
    const sourceId = newId('source');
    const rows = Array.from({ length: 5 }, (_, n) => sendGridRow(sourceId, n));
    await store.appendInbox(rows);
    let full = 4;
    const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    // Every transaction holding the second row fails at commit four times running (a disk that stays
    // full), more than the three refusals that would quarantine it, then the disk has room again.
    // Counted per transaction that holds the row, whatever else it holds.
    const refusingStore = refusing(
      store,
      () => (full > 0 ? rows[1]!.id : null),
      { left: 0 },
      () => {
        full--;
        return diskFull();
      },
    );
    await drain(refusingStore);
    expect(full).toBe(0);
    expect(await store.countInbox()).toEqual({ pending: 0, processed: 5, quarantined: 0 });
    expect((await store.listEvents({ limit: 100 })).items).toHaveLength(5);
  });

  it('blames no row for failures that claimed nothing (an outage) and processes everything once the store is back', async () => {
    const sourceId = newId('source');
    await store.appendInbox([sendGridRow(sourceId, 1)]);
    const outages = { left: 3 };
    await drain(refusing(store, () => null, outages));
    expect(outages.left).toBe(0);
    expect(await store.countInbox()).toEqual({ pending: 0, processed: 1, quarantined: 0 });
  });
});
