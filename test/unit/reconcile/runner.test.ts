import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent, ParsedEvent } from '../../../src/events.js';
import { newId } from '../../../src/ids.js';
import { canonicalNewEvent } from '../../../src/pipeline/canonical-event.js';
import { ReconcileRunner } from '../../../src/reconcile/runner.js';
import {
  type EventReader,
  ReaderFormatError,
  ReaderHttpError,
  type ReaderPage,
} from '../../../src/reconcile/types.js';
import type { ReconcileJob } from '../../../src/store/reconcile-types.js';
import type { PublishedEvent } from '../../../src/store/store.js';
import { type TestApp, testApp } from '../../helpers/app.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';

const DAY = 86_400_000;
const NOW = new Date('2026-12-06T12:00:00.000Z');

function parsed(id: string, minutesAgo: number): ParsedEvent {
  return {
    type: 'email.delivered',
    timestamp: new Date(NOW.getTime() - minutesAgo * 60_000),
    dedupKey: id,
    data: {
      provider_event_id: id,
      message_id: `msg-${id}`,
      recipient: 'ada@example.com',
      user_agent: null,
      ip: null,
      tags: ['welcome'],
      metadata: {},
      raw: { id },
    },
  };
}

/** A reader over fixed pages; `fail` decides, per call, whether that call throws instead. */
function fakeReader(pages: ReaderPage[], fail: (call: number) => Error | null = () => null) {
  const calls: Array<{ cursor: string | null; since: Date; until: Date; apiKey: string }> = [];
  const reader: EventReader = {
    provider: 'sendgrid',
    defaultBaseUrl: 'https://api.example.test',
    retentionMs: 30 * DAY,
    validateConfig: (config) => config,
    async readPage({ config, window, cursor }) {
      calls.push({ cursor, since: window.since, until: window.until, apiKey: config.apiKey });
      const error = fail(calls.length);
      if (error) throw error;
      const page = pages[cursor === null ? 0 : Number(cursor)];
      if (!page) throw new Error(`no page ${cursor}`);
      return page;
    },
  };
  return { reader, calls };
}

describe('ReconcileRunner', () => {
  let app: TestApp;
  let sourceId: string;
  const system: PublishedEvent[] = [];
  const waits: number[] = [];

  beforeEach(async () => {
    app = await testApp();
    sourceId = newId('source');
    await app.store.createSource({
      id: sourceId,
      name: 'sg with API',
      provider: 'sendgrid',
      config: { public_key: 'unused', api_key: 'key-123' },
      enabled: true,
      state: {},
      createdAt: NOW,
      updatedAt: NOW,
    });
    system.length = 0;
    waits.length = 0;
  });

  afterEach(async () => {
    await app.close();
  });

  function runner(reader: EventReader) {
    return new ReconcileRunner({
      store: app.store,
      effects: app.effects,
      get: async () => {
        throw new Error('the fake reader does not fetch');
      },
      logger: pino({ level: 'silent' }),
      owner: 'node-test',
      publishSystem: async (events) => {
        system.push(...events);
        await app.store.publishEvents(events, app.effects, NOW);
      },
      readers: (provider) => (provider === 'sendgrid' ? reader : undefined),
      now: () => NOW,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
  }

  async function queue(overrides: Partial<ReconcileJob> = {}): Promise<ReconcileJob> {
    const job: ReconcileJob = {
      id: newId('reconciliation'),
      sourceId,
      trigger: 'api',
      status: 'running',
      since: new Date(NOW.getTime() - DAY),
      until: NOW,
      cursor: null,
      pages: 0,
      found: 0,
      new: 0,
      duplicates: 0,
      skipped: 0,
      error: null,
      createdAt: NOW,
      updatedAt: NOW,
      finishedAt: null,
      ...overrides,
    };
    expect((await app.store.createReconciliation(job)).created).toBe(true);
    return job;
  }

  it('stores what the webhook never brought, once, with a delivery, and counts what it did bring as duplicates', async () => {
    const endpoint = endpointRecord();
    await app.store.createEndpoint(endpoint);
    // One event came by webhook before.
    const viaWebhook = canonicalNewEvent(parsed('evt-b', 50), {
      provider: 'sendgrid',
      sourceId,
      receivedAt: NOW,
      receivedVia: 'webhook',
    });
    await app.store.publishEvents([viaWebhook], app.effects, NOW);
    const { reader, calls } = fakeReader([
      { events: [parsed('evt-a', 60), parsed('evt-b', 50)], skipped: 1, next: '1' },
      { events: [parsed('evt-c', 40)], skipped: 0, next: null },
    ]);
    const job = await queue();

    expect(await runner(reader).runUntilIdle()).toBe(1);
    expect(calls.map((c) => c.cursor)).toEqual([null, '1']);
    expect(calls[0]?.apiKey).toBe('key-123');
    expect(await app.store.getReconciliation(job.id)).toMatchObject({
      status: 'done',
      pages: 2,
      found: 3,
      new: 2,
      duplicates: 1,
      skipped: 1,
      error: null,
    });
    const { items } = await app.store.listEvents({ limit: 10 });
    const byKey = new Map(items.map((e: CanonicalEvent) => [e.data.provider_event_id, e]));
    expect(items).toHaveLength(3);
    expect(byKey.get('evt-a')?.data.received_via).toBe('api');
    expect(byKey.get('evt-b')?.data.received_via, 'the webhook copy stays').toBe('webhook');
    expect(byKey.get('evt-c')?.data).toMatchObject({
      received_via: 'api',
      source_id: sourceId,
      tags: ['welcome'],
    });
    const deliveries = await app.store.listDeliveries({ endpointId: endpoint.id, limit: 10 });
    expect(deliveries.items.map((d) => d.eventId).sort()).toEqual(
      [byKey.get('evt-a')?.id, byKey.get('evt-b')?.id, byKey.get('evt-c')?.id].sort(),
    );
    const state = (await app.store.getSource(sourceId))?.state as {
      reconciliation?: Record<string, unknown>;
    };
    expect(state.reconciliation).toMatchObject({ job_id: job.id, status: 'done' });
    // A merge patch: null removes the key, so an earlier failure's error does not linger.
    expect(state.reconciliation?.error).toBeUndefined();
  });

  it('waits as the API asks after a 429, longer each time after 5xx, and carries on', async () => {
    const { reader } = fakeReader([{ events: [parsed('evt-a', 5)], skipped: 0, next: null }], (call) =>
      call === 1
        ? new ReaderHttpError(429, 7000, 'rate limited')
        : call === 2 || call === 3
          ? new ReaderHttpError(503, null, 'unavailable')
          : null,
    );
    const job = await queue();
    await runner(reader).runUntilIdle();
    expect(waits).toEqual([7000, 1000, 2000]);
    expect((await app.store.getReconciliation(job.id))?.status).toBe('done');
  });

  it('stops at a refused API key: the job fails, the source shows it, and system.source.reconcile_failed is raised', async () => {
    const { reader, calls } = fakeReader([], () => new ReaderHttpError(401, null, 'Unauthorized'));
    const job = await queue();
    await runner(reader).runUntilIdle();
    expect(calls).toHaveLength(1);
    const failed = await app.store.getReconciliation(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatch(/refused the API key \(HTTP 401\)/);
    expect((await app.store.getSource(sourceId))?.state).toMatchObject({
      reconciliation: { status: 'failed' },
    });
    expect(system.map((e) => e.event.type)).toEqual(['system.source.reconcile_failed']);
    expect(system[0]?.event.data.metadata).toMatchObject({
      source_id: sourceId,
      reconciliation_id: job.id,
      http_status: 401,
    });
  });

  it('gives up on a page after its tries, and at once on a body it cannot read', async () => {
    const always500 = fakeReader([], () => new ReaderHttpError(500, null, 'boom'));
    const first = await queue();
    await runner(always500.reader).runUntilIdle();
    expect(always500.calls).toHaveLength(8);
    expect((await app.store.getReconciliation(first.id))?.error).toMatch(/after 8 tries/);

    const garbled = fakeReader([], () => new ReaderFormatError('items is not an array'));
    const second = await queue();
    await runner(garbled.reader).runUntilIdle();
    expect(garbled.calls).toHaveLength(1);
    expect((await app.store.getReconciliation(second.id))?.error).toMatch(/items is not an array/);
  });

  it('resumes a job at the page it had saved, and clips its window to what the API keeps', async () => {
    const { reader, calls } = fakeReader([
      { events: [parsed('never-read', 1)], skipped: 0, next: '1' },
      { events: [parsed('evt-z', 1)], skipped: 0, next: null },
    ]);
    const job = await queue({ since: new Date(NOW.getTime() - 90 * DAY) });
    // A node read the first page, saved its place and died: its lease has run out since.
    const before = new Date(NOW.getTime() - 600_000);
    await app.store.claimReconciliation('dead-node', before, 60_000);
    const saved = { cursor: '1', pages: 1, found: 5, new: 5, duplicates: 0, skipped: 0 };
    expect(await app.store.saveReconciliation(job.id, 'dead-node', saved, before, 60_000)).toBe(true);
    await runner(reader).runUntilIdle();
    expect(calls.map((c) => c.cursor)).toEqual(['1']);
    expect(calls[0]?.since.getTime()).toBe(NOW.getTime() - 30 * DAY);
    expect(await app.store.getReconciliation(job.id)).toMatchObject({
      status: 'done',
      pages: 2,
      found: 6,
      new: 6,
    });
  });

  it('stops during a long rate-limit wait at once, leaving the job to resume', async () => {
    const { reader, calls } = fakeReader([], () => new ReaderHttpError(429, 60_000, 'rate limited'));
    const job = await queue();
    const live = new ReconcileRunner({
      store: app.store,
      effects: app.effects,
      get: async () => ({ status: 200, headers: {}, text: '' }),
      logger: pino({ level: 'silent' }),
      owner: 'node-live',
      publishSystem: async () => {},
      readers: () => reader,
    });
    live.start();
    const deadline = Date.now() + 5000;
    while (calls.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toHaveLength(1);
    const stopping = Date.now();
    await live.stop();
    expect(Date.now() - stopping, 'not the 60 s the API asked for').toBeLessThan(2000);
    expect((await app.store.getReconciliation(job.id))?.status).toBe('running');
    // Its lease was given back: another node (or the next start) takes it over at once.
    expect((await app.store.claimReconciliation('node-next', new Date(), 60_000))?.id).toBe(job.id);
  });

  it('fails a job whose source has no API key', async () => {
    await app.store.updateSource(sourceId, { config: { public_key: 'unused' } }, NOW);
    const { reader, calls } = fakeReader([]);
    const job = await queue();
    await runner(reader).runUntilIdle();
    expect(calls).toHaveLength(0);
    expect((await app.store.getReconciliation(job.id))?.error).toMatch(/no API key/);
  });
});
