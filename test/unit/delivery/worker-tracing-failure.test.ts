import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { createDueDeliveries, QuickSender, testWorker } from '../../helpers/worker-setup.js';

/**
 * Tracing is an observer: a tracer or exporter that throws must cost an attempt its span, never the
 * attempt, its record, or (as an unhandled rejection) the process.
 */

const failing = vi.hoisted(() => ({ at: 'start' as 'start' | 'end' }));

// A tracer that throws when a span starts, or whose spans throw when they are ended.
vi.mock('../../../src/tracing/tracing.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../src/tracing/tracing.js')>()),
  activeTracer: () => ({
    startSpan: () => {
      if (failing.at === 'start') throw new Error('tracer broke at start');
      const broken = () => {
        throw new Error('tracer broke at end');
      };
      return { setAttribute: broken, setStatus: broken, end: broken };
    },
  }),
}));

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('DeliveryWorker with a tracer that throws', () => {
  it.each(['start', 'end'] as const)(
    'sends and records every attempt when the span fails at its %s',
    async (at) => {
      failing.at = at;
      const dir = await mkdtemp(join(tmpdir(), 'mailhook-tracing-failure-'));
      const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
      await store.migrate();
      const now = new Date();
      const endpoint = endpointRecord({ url: 'http://127.0.0.1:9/hook' }, now);
      await store.createEndpoint(endpoint);
      await createDueDeliveries(store, endpoint, 3, now);
      const sender = new QuickSender();
      const worker = testWorker({ store, sender, concurrency: 5 });
      cleanup = async () => {
        await worker.stop();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      };
      worker.start();
      await vi.waitFor(() => expect(worker.stats.succeeded).toBe(3));
      await worker.idle();
      expect(sender.sent).toBe(3);
      const page = await store.listDeliveries({ limit: 10 });
      expect(page.items.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    },
  );
});
