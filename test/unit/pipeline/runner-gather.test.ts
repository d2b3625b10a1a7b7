import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PipelineRunner } from '../../../src/pipeline/runner.js';
import type { BatchSummary, Store } from '../../../src/store/store.js';

/** A store whose inbox is a counter of pending rows; each processInbox call takes what is there. */
function countingStore() {
  const batches: number[] = [];
  let pending = 0;
  const store = {
    capabilities: { singleNode: true, blockingWrites: true, oneWriter: true },
    async processInbox(limit: number): Promise<BatchSummary> {
      const rows = Math.min(limit, pending);
      pending -= rows;
      if (rows > 0) batches.push(rows);
      return {
        rows,
        processed: rows,
        quarantined: 0,
        inserted: rows,
        duplicates: 0,
        deliveries: 0,
        insertedByType: {},
      };
    },
  } as unknown as Store;
  return { store, batches, append: (n: number) => (pending += n) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function twoCommitsApart(gatherMs: number): Promise<number[]> {
  const { store, batches, append } = countingStore();
  const runner = new PipelineRunner({ store, logger: pino({ level: 'silent' }), pollMs: 10_000, gatherMs });
  runner.start();
  await sleep(20); // the first empty batch, then asleep until woken
  append(1);
  runner.wake();
  await sleep(5);
  append(1);
  runner.wake();
  await sleep(gatherMs + 60);
  await runner.stop();
  return batches;
}

describe('PipelineRunner gathering', () => {
  it('lets rows committed just after a wake share the transaction', async () => {
    expect(await twoCommitsApart(30)).toEqual([2]);
  });

  it('without gathering, each wake takes what is there at once', async () => {
    expect(await twoCommitsApart(0)).toEqual([1, 1]);
  });
});
