import { describe, expect, it } from 'vitest';
import { InboxWriter } from '../../../src/ingest/inbox-writer.js';
import type { InboxInsert, Store } from '../../../src/store/store.js';

function row(i: number): InboxInsert {
  return {
    id: `in_${i}`,
    sourceId: 'src_1',
    provider: 'sendgrid',
    receivedAt: new Date(),
    method: 'POST',
    path: '/ingest/src_1',
    query: '',
    headers: {},
    body: Buffer.from(String(i)),
  };
}

/** A store whose appendInbox records each commit and can be told to fail or to be slow. */
function recordingStore(options: { fail?: boolean; delayMs?: number } = {}) {
  const commits: string[][] = [];
  const store = {
    async appendInbox(rows: InboxInsert[]) {
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (options.fail) throw new Error('disk full');
      commits.push(rows.map((r) => r.id));
      return { replayed: rows.filter((r) => r.oneTimeToken?.token === 'replayed').map((r) => r.id) };
    },
  } as unknown as Store;
  return { store, commits };
}

describe('InboxWriter group commit', () => {
  it('commits requests that arrive in the same turn of the event loop in one transaction', async () => {
    const { store, commits } = recordingStore();
    const writer = new InboxWriter({ append: store.appendInbox.bind(store) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.add(row(i))));
    expect(commits).toHaveLength(1);
    expect(commits[0]).toHaveLength(50);
  });

  it('resolves a request only after its commit', async () => {
    const { store, commits } = recordingStore({ delayMs: 20 });
    const writer = new InboxWriter({ append: store.appendInbox.bind(store) });
    let committedWhenResolved = -1;
    await writer.add(row(1)).then(() => {
      committedWhenResolved = commits.length;
    });
    expect(committedWhenResolved).toBe(1);
  });

  it('gathers requests arriving during a slow commit into the next one', async () => {
    const { store, commits } = recordingStore({ delayMs: 30 });
    const writer = new InboxWriter({ append: store.appendInbox.bind(store) });
    const first = writer.add(row(0));
    await new Promise((r) => setTimeout(r, 5));
    const later = Array.from({ length: 10 }, (_, i) => writer.add(row(i + 1)));
    await Promise.all([first, ...later]);
    expect(commits.map((c) => c.length)).toEqual([1, 10]);
  });

  it('keeps at most maxInFlight commits going and gathers the rest for the next one', async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const writer = new InboxWriter({
      maxInFlight: 2,
      append: async (rows) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        sizes.push(rows.length);
        inFlight--;
        return { replayed: [] };
      },
    });
    const all: Promise<unknown>[] = [writer.add(row(0))];
    await new Promise((r) => setTimeout(r, 5));
    all.push(writer.add(row(1)));
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 2; i < 12; i++) all.push(writer.add(row(i)));
    await Promise.all(all);
    expect(most).toBe(2);
    expect(sizes).toEqual([1, 1, 10]);
  });

  it('with maxInFlight 1 never overlaps commits', async () => {
    let inFlight = 0;
    let most = 0;
    const writer = new InboxWriter({
      maxInFlight: 1,
      append: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { replayed: [] };
      },
    });
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      all.push(writer.add(row(i)));
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(all);
    expect(most).toBe(1);
  });

  it('splits a burst larger than maxBatch into several commits', async () => {
    const { store, commits } = recordingStore();
    const writer = new InboxWriter({ append: store.appendInbox.bind(store), maxBatch: 8 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.add(row(i))));
    expect(commits.map((c) => c.length)).toEqual([8, 8, 4]);
    expect(writer.stats).toEqual({ commits: 3, rows: 20, largestBatch: 8 });
  });

  it('rejects every request of a failed commit and tells nobody it was stored', async () => {
    const { store } = recordingStore({ fail: true });
    let committed = 0;
    const writer = new InboxWriter({ append: store.appendInbox.bind(store), onCommitted: () => committed++ });
    const results = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => writer.add(row(i))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(committed).toBe(0);
  });

  it("answers each request with its own row's outcome: stored, or refused as a replayed token", async () => {
    const { store } = recordingStore();
    const writer = new InboxWriter({ append: store.appendInbox.bind(store) });
    const token = (name: string) => ({ token: name, bodyHash: 'h', expiresAt: new Date() });
    const outcomes = await Promise.all([
      writer.add(row(1)),
      writer.add({ ...row(2), oneTimeToken: token('replayed') }),
      writer.add({ ...row(3), oneTimeToken: token('fresh') }),
    ]);
    expect(outcomes).toEqual(['stored', 'replayed', 'stored']);
  });

  it('drains everything appended before it returns', async () => {
    const { store, commits } = recordingStore({ delayMs: 10 });
    const writer = new InboxWriter({ append: store.appendInbox.bind(store), maxBatch: 2 });
    for (let i = 0; i < 5; i++) void writer.add(row(i));
    await writer.drain();
    expect(commits.flat()).toHaveLength(5);
  });
});
