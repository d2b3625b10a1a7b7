import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BounceType, CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import type {
  BatchSummary,
  EndpointRecord,
  InboxInsert,
  NewEvent,
  Store,
  SuppressionEntry,
  SuppressionQuery,
} from '../../src/store/store.js';
import { endpointRecord as endpointRecordAt } from '../helpers/endpoint-record.js';
import { runStatsContract } from './stats-contract.js';
import type { MakeStore } from './store-contract.js';

/**
 * The email-intelligence half of the Store contract: suppressions applied by the effects of new
 * events (in the pipeline's transaction and on publish), the suppression list itself, idempotent
 * publishing, message and recipient timelines, and event stats (./stats-contract.ts). Every
 * implementation runs it through the Store interface only; each test gets a fresh, migrated store and
 * owns its state.
 */

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** When the pipeline processes the batches: suppressions are created at this instant. */
const NOW = new Date(T0 + 30 * DAY);
const SOURCE = 'src_01JDINSIGHTSCONTRACT0000000';
const OTHER_SOURCE = 'src_01JDINSIGHTSOTHER000000000';
const EFFECTS = pipelineEffects({ threshold: 3, windowMs: 7 * DAY });
const ADA = 'ada@example.com';

interface EventSpec {
  type: string;
  /** Milliseconds after T0. */
  at?: number;
  recipient?: string | null;
  bounce?: BounceType;
  /** The unsubscribe group of (un|re)subscribe events; null for global. */
  group?: string | null;
  messageId?: string | null;
  sourceId?: string;
  provider?: string;
}

/** A canonical event shaped like what an adapter produces. */
function canonicalEvent(spec: EventSpec): CanonicalEvent {
  const timestamp = new Date(T0 + (spec.at ?? 0)).toISOString();
  const recipient = spec.recipient === undefined ? ADA : spec.recipient;
  const bounced = spec.type === 'email.bounced' || spec.type === 'email.dropped';
  const bounceType = spec.bounce ?? 'hard';
  const subscription = spec.type === 'email.unsubscribed' || spec.type === 'email.resubscribed';
  return {
    id: newId('event'),
    type: spec.type,
    timestamp,
    data: {
      provider: spec.provider ?? 'sendgrid',
      source_id: spec.sourceId ?? SOURCE,
      provider_event_id: `sg_${Math.random().toString(36).slice(2, 12)}`,
      message_id: spec.messageId === undefined ? 'msg-1' : spec.messageId,
      recipient,
      ...(bounced && {
        bounce: {
          type: bounceType,
          code: bounceType === 'hard' ? '5.1.1' : '4.2.2',
          reason: bounceType === 'hard' ? '550 5.1.1 unknown user' : '452 4.2.2 mailbox full',
        },
      }),
      ...(subscription && { unsubscribe: { group: spec.group ?? null } }),
      ...(spec.type === 'email.opened' && { open: { machine: false } }),
      user_agent: null,
      ip: null,
      tags: ['newsletter'],
      metadata: { customer_id: '42' },
      received_at: new Date(T0 + (spec.at ?? 0) + SECOND).toISOString(),
      raw: { email: recipient, event: spec.type.replace(/^email\./, '') },
    },
  };
}

function newEvent(spec: EventSpec, dedupKey?: string): NewEvent {
  const event = canonicalEvent(spec);
  return { dedupKey: dedupKey ?? event.id, event };
}

let receivedSeq = 0;

function inboxInsert(sourceId: string): InboxInsert {
  receivedSeq++;
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'sendgrid',
    receivedAt: new Date(T0 + receivedSeq * SECOND),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(`[{"sg_event_id":"sg_${receivedSeq}"}]`),
  };
}

/** Stores events as the pipeline does: one inbox row, one batch, with the pipeline's effects. */
async function ingest(store: Store, events: NewEvent[]): Promise<BatchSummary> {
  const row = inboxInsert(events[0]?.event.data.source_id ?? SOURCE);
  await store.appendInbox([row]);
  const summary = await store.processInbox(
    10,
    (claimed) =>
      claimed.map((r) => ({
        inboxId: r.id,
        kind: 'processed' as const,
        events: r.id === row.id ? events : [],
        notes: [],
      })),
    EFFECTS,
    NOW,
  );
  expect(summary.rows).toBe(1);
  return summary;
}

/** Stores each event in its own batch, in the order given. */
async function ingestEach(store: Store, events: NewEvent[]): Promise<void> {
  for (const event of events) await ingest(store, [event]);
}

function soft(at: number, recipient = ADA): NewEvent {
  return newEvent({ type: 'email.bounced', bounce: 'soft', at, recipient });
}

function delivered(at: number, recipient = ADA): NewEvent {
  return newEvent({ type: 'email.delivered', at, recipient });
}

function endpointRecord(overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  return endpointRecordAt(overrides, new Date(T0));
}

function manual(
  email: string,
  createdAt: number,
  overrides: Partial<SuppressionEntry> = {},
): SuppressionEntry {
  return {
    email,
    scope: 'global',
    reason: 'manual',
    detail: 'added by support',
    eventId: null,
    sourceId: null,
    createdAt: new Date(createdAt),
    ...overrides,
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The reference order of listSuppressions: newest first, then email, scope, reason descending. */
function newestFirst(a: SuppressionEntry, b: SuppressionEntry): number {
  return (
    b.createdAt.getTime() - a.createdAt.getTime() ||
    compareText(b.email, a.email) ||
    compareText(b.scope, a.scope) ||
    compareText(b.reason, a.reason)
  );
}

function keyOf(e: SuppressionEntry): string {
  return `${e.email}|${e.scope}|${e.reason}`;
}

async function allSuppressionPages(
  store: Store,
  query: Omit<SuppressionQuery, 'limit' | 'cursor'>,
  limit: number,
): Promise<SuppressionEntry[][]> {
  const pages: SuppressionEntry[][] = [];
  let cursor: SuppressionQuery['cursor'];
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.listSuppressions({ ...query, limit, ...(cursor && { cursor }) });
    pages.push(page.items);
    if (!page.next) return pages;
    cursor = page.next;
  }
  throw new Error('listSuppressions pagination did not end');
}

export function runInsightsContract(name: string, makeStore: MakeStore): void {
  describe(`${name} insights`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    async function reasonsOf(email: string): Promise<string[]> {
      return (await store.getSuppressions(email)).map((e) => `${e.scope}/${e.reason}`).sort();
    }

    describe('suppressions from events', () => {
      it('a hard bounce suppresses the address globally, naming the event and its source', async () => {
        const bounce = newEvent({ type: 'email.bounced', bounce: 'hard' });
        await ingest(store, [bounce]);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          email: ADA,
          scope: 'global',
          reason: 'hard_bounce',
          eventId: bounce.event.id,
          sourceId: SOURCE,
          createdAt: NOW,
        });
        expect(entries[0]?.detail).toContain('5.1.1');
      });

      it('two soft bounces do not suppress', async () => {
        await ingestEach(store, [soft(0), soft(DAY)]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });

      it('three soft bounces within the window suppress with reason soft_bounces', async () => {
        const third = soft(2 * DAY);
        await ingestEach(store, [soft(0), soft(DAY), third]);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          email: ADA,
          scope: 'global',
          reason: 'soft_bounces',
          eventId: third.event.id,
          sourceId: SOURCE,
          createdAt: NOW,
        });
      });

      it('three soft bounces within the window stored in one batch, newest first, suppress', async () => {
        await ingest(store, [soft(2 * DAY), soft(DAY), soft(0)]);
        expect(await reasonsOf(ADA)).toEqual(['global/soft_bounces']);
      });

      it('three soft bounces within the window arriving out of order in separate batches suppress', async () => {
        await ingestEach(store, [soft(2 * DAY), soft(0), soft(DAY)]);
        expect(await reasonsOf(ADA)).toEqual(['global/soft_bounces']);
      });

      it('a delivery between soft bounces resets the count', async () => {
        await ingestEach(store, [soft(0), delivered(HOUR), soft(DAY), soft(2 * DAY)]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });

      it('a delivery between soft bounces resets the count within one batch too', async () => {
        await ingest(store, [soft(2 * DAY), delivered(HOUR), soft(DAY), soft(0)]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });

      it('soft bounces spread wider than the window do not suppress', async () => {
        await ingestEach(store, [soft(0), soft(4 * DAY), soft(8 * DAY)]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });

      it('soft bounces of other addresses do not count', async () => {
        await ingestEach(store, [soft(0), soft(DAY, 'bob@example.com'), soft(2 * DAY)]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
        expect(await store.getSuppressions('bob@example.com')).toEqual([]);
      });

      it('a complaint suppresses globally with reason complaint', async () => {
        const complaint = newEvent({ type: 'email.complained' });
        await ingest(store, [complaint]);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          scope: 'global',
          reason: 'complaint',
          eventId: complaint.event.id,
        });
      });

      it('an unsubscribe from group 42 suppresses only scope group:42', async () => {
        const unsubscribe = newEvent({ type: 'email.unsubscribed', group: '42' });
        await ingest(store, [unsubscribe]);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          email: ADA,
          scope: 'group:42',
          reason: 'unsubscribe',
          eventId: unsubscribe.event.id,
          sourceId: SOURCE,
        });
      });

      it('a resubscribe to the same group removes its unsubscribe and keeps the others', async () => {
        await ingest(store, [
          newEvent({ type: 'email.unsubscribed', group: '42', at: 0 }),
          newEvent({ type: 'email.unsubscribed', group: '7', at: MINUTE }),
        ]);
        await ingest(store, [newEvent({ type: 'email.resubscribed', group: '42', at: HOUR })]);
        expect(await reasonsOf(ADA)).toEqual(['group:7/unsubscribe']);
      });

      it('a global unsubscribe then a global resubscribe leaves no suppression', async () => {
        await ingest(store, [newEvent({ type: 'email.unsubscribed', group: null })]);
        expect(await reasonsOf(ADA)).toEqual(['global/unsubscribe']);
        await ingest(store, [newEvent({ type: 'email.resubscribed', group: null, at: HOUR })]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });

      it('applies the unsubscribes and resubscribes of one batch in their order, recipient by recipient', async () => {
        const [bob, cy, dee, eve] = [
          'bob@example.com',
          'cy@example.com',
          'dee@example.com',
          'eve@example.com',
        ];
        const earlier = [
          newEvent({ type: 'email.unsubscribed', recipient: dee }),
          newEvent({ type: 'email.unsubscribed', recipient: eve }),
        ];
        await ingest(store, earlier);
        const unsub = (recipient: string, at: number) =>
          newEvent({ type: 'email.unsubscribed', recipient, at });
        const resub = (recipient: string, at: number) =>
          newEvent({ type: 'email.resubscribed', recipient, at });
        const batch = [
          unsub(ADA, MINUTE),
          resub(ADA, 2 * MINUTE),
          unsub(ADA, 3 * MINUTE), // the last unsubscribe stands
          unsub(bob, MINUTE),
          unsub(bob, 2 * MINUTE), // the first one stands
          unsub(cy, MINUTE),
          resub(cy, 2 * MINUTE), // none
          unsub(dee, MINUTE), // the earlier entry stands
          resub(eve, MINUTE),
          unsub(eve, 2 * MINUTE), // the new one replaces the earlier entry
        ];
        await ingest(store, batch);
        const entryOf = async (email: string) => store.getSuppressions(email);
        const unsubscribed = (email: string, spec: NewEvent | undefined) => [
          {
            email,
            scope: 'global',
            reason: 'unsubscribe',
            detail: null,
            eventId: spec?.event.id,
            sourceId: SOURCE,
          },
        ];
        expect(await entryOf(ADA)).toMatchObject(unsubscribed(ADA, batch[2]));
        expect(await entryOf(bob)).toMatchObject(unsubscribed(bob, batch[3]));
        expect(await entryOf(cy)).toEqual([]);
        expect(await entryOf(dee)).toMatchObject(unsubscribed(dee, earlier[0]));
        expect(await entryOf(eve)).toMatchObject(unsubscribed(eve, batch[9]));
        for (const email of [ADA, bob, dee, eve]) expect(await entryOf(email)).toHaveLength(1);
      });

      it('a resubscribe never lifts a hard bounce or a complaint', async () => {
        await ingest(store, [
          newEvent({ type: 'email.bounced', bounce: 'hard' }),
          newEvent({ type: 'email.complained', at: MINUTE }),
          newEvent({ type: 'email.unsubscribed', at: 2 * MINUTE }),
        ]);
        await ingest(store, [newEvent({ type: 'email.resubscribed', at: HOUR })]);
        expect(await reasonsOf(ADA)).toEqual(['global/complaint', 'global/hard_bounce']);
      });

      it('a drop with a hard bounce suppresses with reason hard_bounce; other drops do not', async () => {
        const drop = newEvent({ type: 'email.dropped', bounce: 'hard' });
        await ingest(store, [
          drop,
          newEvent({ type: 'email.dropped', bounce: 'undetermined', recipient: 'bob@example.com' }),
        ]);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ scope: 'global', reason: 'hard_bounce', eventId: drop.event.id });
        expect(await store.getSuppressions('bob@example.com')).toEqual([]);
      });

      it('events without a recipient and events of other types suppress nothing', async () => {
        const summary = await ingest(store, [
          newEvent({ type: 'email.bounced', bounce: 'hard', recipient: null }),
          newEvent({ type: 'email.complained', recipient: null }),
          newEvent({ type: 'email.delivered' }),
          newEvent({ type: 'email.opened' }),
          newEvent({ type: 'email.bounced', bounce: 'undetermined' }),
        ]);
        expect(summary.inserted).toBe(5);
        expect((await store.listSuppressions({ limit: 100 })).items).toEqual([]);
      });

      it('the same bounce event twice creates one suppression, caused by the first', async () => {
        const first = newEvent({ type: 'email.bounced', bounce: 'hard' }, 'sg-bounce-1');
        const again = { dedupKey: 'sg-bounce-1', event: { ...first.event, id: newId('event') } };
        await ingest(store, [first]);
        const summary = await ingest(store, [again]);
        expect(summary).toMatchObject({ inserted: 0, duplicates: 1 });
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]?.eventId).toBe(first.event.id);
      });

      it('a soft bounce delivered twice counts once toward the threshold, across batches', async () => {
        const a = soft(0);
        await ingestEach(store, [
          a,
          { dedupKey: a.dedupKey, event: { ...a.event, id: newId('event') } },
          soft(DAY),
        ]);
        expect(await store.getSuppressions(ADA)).toEqual([]);
        await ingest(store, [soft(2 * DAY)]);
        expect(await reasonsOf(ADA)).toEqual(['global/soft_bounces']);
      });

      it('a soft bounce delivered twice counts once toward the threshold, within one batch', async () => {
        const a = soft(0);
        const summary = await ingest(store, [
          a,
          { dedupKey: a.dedupKey, event: { ...a.event, id: newId('event') } },
          soft(DAY),
        ]);
        expect(summary).toMatchObject({ inserted: 2, duplicates: 1 });
        expect(await store.getSuppressions(ADA)).toEqual([]);
      });
    });

    describe('suppression list', () => {
      it('addSuppression stores an entry exactly, and adding the same key again keeps the first cause', async () => {
        const entry = manual(ADA, T0 + 5, { detail: 'asked by phone, "twice"' });
        await store.addSuppression(entry);
        await store.addSuppression({ ...entry, detail: 'again', createdAt: new Date(T0 + 99) });
        expect(await store.getSuppressions(ADA)).toEqual([entry]);
      });

      it('getSuppressions lists an address entries oldest first and nothing for an unknown address', async () => {
        const group = manual(ADA, T0 + 2, { scope: 'group:9' });
        const global = manual(ADA, T0 + 1);
        const complaint = manual(ADA, T0 + 3, {
          reason: 'complaint',
          eventId: 'evt_1',
          sourceId: SOURCE,
          detail: null,
        });
        for (const e of [group, complaint, global]) await store.addSuppression(e);
        expect(await store.getSuppressions(ADA)).toEqual([global, group, complaint]);
        expect(await store.getSuppressions('nobody@example.com')).toEqual([]);
      });

      it('removeSuppressions removes by scope, by reason, or all, and counts what it removed', async () => {
        await store.addSuppression(manual(ADA, T0));
        await store.addSuppression(manual(ADA, T0, { scope: 'group:7' }));
        await store.addSuppression(manual(ADA, T0, { reason: 'complaint' }));
        await store.addSuppression(manual(ADA, T0, { reason: 'unsubscribe', scope: 'group:7' }));
        await store.addSuppression(manual('bob@example.com', T0));

        expect(await store.removeSuppressions(ADA, { scope: 'group:7', reason: 'manual' })).toBe(1);
        expect(await reasonsOf(ADA)).toEqual(['global/complaint', 'global/manual', 'group:7/unsubscribe']);
        expect(await store.removeSuppressions(ADA, { scope: 'group:7' })).toBe(1);
        expect(await reasonsOf(ADA)).toEqual(['global/complaint', 'global/manual']);
        expect(await store.removeSuppressions(ADA, { reason: 'manual' })).toBe(1);
        expect(await reasonsOf(ADA)).toEqual(['global/complaint']);
        expect(await store.removeSuppressions(ADA, {})).toBe(1);
        expect(await store.getSuppressions(ADA)).toEqual([]);
        expect(await store.removeSuppressions(ADA, {})).toBe(0);
        expect(await store.removeSuppressions('nobody@example.com', { reason: 'manual' })).toBe(0);
        expect(await reasonsOf('bob@example.com')).toEqual(['global/manual']);
      });

      it('checkSuppressions answers many addresses at once, with empty arrays for unknown ones', async () => {
        const emails = Array.from({ length: 300 }, (_, i) => `user${i}@example.com`);
        const suppressed = new Set(emails.filter((_, i) => i % 7 === 0));
        for (const email of suppressed) await store.addSuppression(manual(email, T0));
        await store.addSuppression(manual('user0@example.com', T0 + 1, { scope: 'group:3' }));
        const found = await store.checkSuppressions([...emails, 'nobody@example.com']);
        expect([...found.keys()].sort()).toEqual([...emails, 'nobody@example.com'].sort());
        for (const email of emails) {
          const entries = found.get(email);
          if (email === 'user0@example.com')
            expect(entries?.map((e) => e.scope)).toEqual(['global', 'group:3']);
          else if (suppressed.has(email)) expect(entries).toEqual([manual(email, T0)]);
          else expect(entries).toEqual([]);
        }
        expect(found.get('nobody@example.com')).toEqual([]);
      });

      it('checkSuppressions of no address returns an empty map', async () => {
        expect((await store.checkSuppressions([])).size).toBe(0);
      });

      describe('listSuppressions', () => {
        const entries = [
          manual('a@example.com', T0 + 1),
          manual('b@example.com', T0 + 2, { reason: 'complaint' }),
          manual('c@example.com', T0 + 2),
          manual('c@example.com', T0 + 2, { scope: 'group:1' }),
          manual('c@example.com', T0 + 2, { reason: 'unsubscribe' }),
          manual('d@example.com', T0 + 3, { reason: 'hard_bounce' }),
          manual('e@example.com', T0, { scope: 'group:2', reason: 'unsubscribe' }),
        ];

        beforeEach(async () => {
          for (const e of entries) await store.addSuppression(e);
        });

        it('lists newest first, ties broken by email, scope and reason descending', async () => {
          const page = await store.listSuppressions({ limit: 100 });
          expect(page.items).toEqual([...entries].sort(newestFirst));
          expect(page.next).toBeNull();
        });

        it('cursor pagination with limit 2 visits every entry exactly once, in order', async () => {
          const pages = await allSuppressionPages(store, {}, 2);
          expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
          expect(pages.flat()).toEqual([...entries].sort(newestFirst));
        });

        it('cursor pagination ends without an empty page when the count divides evenly', async () => {
          await store.addSuppression(manual('f@example.com', T0 - 1));
          const pages = await allSuppressionPages(store, {}, 4);
          expect(pages.map((p) => p.length)).toEqual([4, 4]);
          expect(new Set(pages.flat().map(keyOf)).size).toBe(8);
        });

        it('filters by reason on every page', async () => {
          const pages = await allSuppressionPages(store, { reason: 'manual' }, 1);
          const expected = entries.filter((e) => e.reason === 'manual').sort(newestFirst);
          expect(pages.flat()).toEqual(expected);
          expect(pages).toHaveLength(expected.length);
        });

        it('filters by scope and by since (inclusive)', async () => {
          expect((await store.listSuppressions({ limit: 100, scope: 'group:1' })).items).toEqual([
            entries[3],
          ]);
          const since = await store.listSuppressions({ limit: 100, since: new Date(T0 + 2) });
          expect(since.items).toEqual(
            entries.filter((e) => e.createdAt.getTime() >= T0 + 2).sort(newestFirst),
          );
        });
      });
    });

    describe('publishEvents', () => {
      it('stores a new event as created, and the same source and dedup key again returns the first event', async () => {
        const first = canonicalEvent({ type: 'email.delivered', sourceId: 'src_published' });
        const [created] = await store.publishEvents([{ event: first, dedupKey: 'idem:k1' }], EFFECTS, NOW);
        expect(created).toEqual({ event: first, created: true });
        expect(await store.getEvent(first.id)).toEqual(first);

        const second = canonicalEvent({ type: 'email.opened', sourceId: 'src_published', at: HOUR });
        const [again] = await store.publishEvents([{ event: second, dedupKey: 'idem:k1' }], EFFECTS, NOW);
        expect(again).toEqual({ event: first, created: false });
        expect(await store.getEvent(second.id)).toBeNull();
        expect(await store.countEvents()).toBe(1);
      });

      it('the same dedup key under another source is a different event', async () => {
        const a = canonicalEvent({ type: 'email.delivered', sourceId: 'src_published' });
        const b = canonicalEvent({ type: 'email.delivered', sourceId: OTHER_SOURCE });
        const results = await store.publishEvents(
          [
            { event: a, dedupKey: 'idem:k' },
            { event: b, dedupKey: 'idem:k' },
          ],
          EFFECTS,
          NOW,
        );
        expect(results).toEqual([
          { event: a, created: true },
          { event: b, created: true },
        ]);
      });

      it('a batch mixing new and known keys answers each item in order', async () => {
        const known = canonicalEvent({ type: 'email.sent', sourceId: 'src_published' });
        await store.publishEvents([{ event: known, dedupKey: 'idem:b:0' }], EFFECTS, NOW);
        const fresh = canonicalEvent({ type: 'email.delivered', sourceId: 'src_published' });
        const replay = canonicalEvent({ type: 'email.sent', sourceId: 'src_published' });
        const results = await store.publishEvents(
          [
            { event: replay, dedupKey: 'idem:b:0' },
            { event: fresh, dedupKey: 'idem:b:1' },
          ],
          EFFECTS,
          NOW,
        );
        expect(results).toEqual([
          { event: known, created: false },
          { event: fresh, created: true },
        ]);
      });

      it('five concurrent publishes with one key create exactly one event and all return it', async () => {
        const events = Array.from({ length: 5 }, () =>
          canonicalEvent({ type: 'email.bounced', bounce: 'hard', sourceId: 'src_published' }),
        );
        const results = await Promise.all(
          events.map((event) => store.publishEvents([{ event, dedupKey: 'idem:race' }], EFFECTS, NOW)),
        );
        const flat = results.flat();
        expect(flat).toHaveLength(5);
        expect(flat.filter((r) => r.created)).toHaveLength(1);
        const winner = flat.find((r) => r.created)?.event;
        expect(winner).toBeDefined();
        for (const r of flat) expect(r.event).toEqual(winner);
        expect(await store.countEvents()).toBe(1);
        const entries = await store.getSuppressions(ADA);
        expect(entries).toHaveLength(1);
        expect(entries[0]?.eventId).toBe(winner?.id);
      });

      it('a published hard bounce suppresses the address; publishing it again changes nothing', async () => {
        const bounce = canonicalEvent({ type: 'email.bounced', bounce: 'hard', sourceId: 'src_published' });
        await store.publishEvents([{ event: bounce, dedupKey: 'idem:hb' }], EFFECTS, NOW);
        const expected = await store.getSuppressions(ADA);
        expect(expected).toHaveLength(1);
        expect(expected[0]).toMatchObject({
          reason: 'hard_bounce',
          scope: 'global',
          eventId: bounce.id,
          sourceId: 'src_published',
          createdAt: NOW,
        });
        const later = new Date(NOW.getTime() + DAY);
        await store.publishEvents(
          [{ event: { ...bounce, id: newId('event') }, dedupKey: 'idem:hb' }],
          EFFECTS,
          later,
        );
        expect(await store.getSuppressions(ADA)).toEqual(expected);
      });

      it('published soft bounces count toward the threshold like provider ones', async () => {
        await ingest(store, [soft(0)]);
        const second = canonicalEvent({
          type: 'email.bounced',
          bounce: 'soft',
          at: DAY,
          sourceId: 'src_published',
        });
        const third = canonicalEvent({
          type: 'email.bounced',
          bounce: 'soft',
          at: 2 * DAY,
          sourceId: 'src_published',
        });
        await store.publishEvents([{ event: second, dedupKey: 'idem:s2' }], EFFECTS, NOW);
        expect(await store.getSuppressions(ADA)).toEqual([]);
        await store.publishEvents([{ event: third, dedupKey: 'idem:s3' }], EFFECTS, NOW);
        expect(await reasonsOf(ADA)).toEqual(['global/soft_bounces']);
      });

      it('with routable endpoints, a new published event gets one delivery per matching endpoint', async () => {
        const all = endpointRecord();
        const bounces = endpointRecord({ eventTypes: ['email.bounced'] });
        const invoices = endpointRecord({ eventTypes: ['invoice.*'] });
        for (const e of [all, bounces, invoices]) await store.createEndpoint(e);

        const invoice = canonicalEvent({ type: 'invoice.paid', recipient: null, sourceId: 'src_published' });
        const delivery = canonicalEvent({ type: 'email.delivered', sourceId: 'src_published' });
        await store.publishEvents(
          [
            { event: invoice, dedupKey: 'idem:inv' },
            { event: delivery, dedupKey: 'idem:del' },
          ],
          EFFECTS,
          NOW,
        );
        const invoiceDeliveries = (await store.listDeliveries({ eventId: invoice.id, limit: 10 })).items;
        expect(invoiceDeliveries.map((d) => d.endpointId).sort()).toEqual([all.id, invoices.id].sort());
        for (const d of invoiceDeliveries) {
          expect(d).toMatchObject({ origin: 'event', status: 'pending', attempts: 0, nextAttemptAt: NOW });
        }
        const deliveredDeliveries = (await store.listDeliveries({ eventId: delivery.id, limit: 10 })).items;
        expect(deliveredDeliveries.map((d) => d.endpointId)).toEqual([all.id]);

        await store.publishEvents(
          [{ event: { ...invoice, id: newId('event') }, dedupKey: 'idem:inv' }],
          EFFECTS,
          NOW,
        );
        expect((await store.listDeliveries({ limit: 100 })).items).toHaveLength(3);
      });

      it('processInbox with the pipeline effects fans new events out and duplicates not at all', async () => {
        const endpoint = endpointRecord({ eventTypes: ['email.*'] });
        await store.createEndpoint(endpoint);
        const bounce = newEvent({ type: 'email.bounced', bounce: 'hard' }, 'sg-fan');
        expect((await ingest(store, [bounce])).deliveries).toBe(1);
        expect(
          (await ingest(store, [{ dedupKey: 'sg-fan', event: { ...bounce.event, id: newId('event') } }]))
            .deliveries,
        ).toBe(0);
        const items = (await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items;
        expect(items.map((d) => d.eventId)).toEqual([bounce.event.id]);
      });
    });

    describe('timelines', () => {
      it('listMessageEvents returns every event of the message and only those', async () => {
        const mine = [
          newEvent({ type: 'email.sent', at: 0, messageId: 'm-1' }),
          newEvent({ type: 'email.opened', at: 3 * MINUTE, messageId: 'm-1' }),
          newEvent({ type: 'email.delivered', at: MINUTE, messageId: 'm-1' }),
          newEvent({ type: 'email.clicked', at: 3 * MINUTE, messageId: 'm-1', sourceId: OTHER_SOURCE }),
        ];
        const others = [
          newEvent({ type: 'email.sent', at: 0, messageId: 'm-2' }),
          newEvent({ type: 'email.sent', at: 0, messageId: null }),
        ];
        await ingest(store, [...mine.slice(0, 2), ...others]);
        await ingest(store, mine.slice(2));
        const listed = await store.listMessageEvents('m-1', 100);
        const byId = (a: CanonicalEvent, b: CanonicalEvent) => compareText(a.id, b.id);
        expect([...listed].sort(byId)).toEqual(mine.map((e) => e.event).sort(byId));
        expect(await store.listMessageEvents('m-unknown', 100)).toEqual([]);
      });

      it('listRecipientEvents lists newest first, ties by id descending, up to the limit', async () => {
        const mine = [
          newEvent({ type: 'email.sent', at: 0 }),
          newEvent({ type: 'email.delivered', at: MINUTE }),
          newEvent({ type: 'email.opened', at: 5 * MINUTE }),
          newEvent({ type: 'email.clicked', at: 5 * MINUTE }),
          newEvent({ type: 'email.opened', at: 2 * MINUTE }),
        ];
        await ingest(store, [
          ...mine,
          newEvent({ type: 'email.sent', at: 9 * MINUTE, recipient: 'bob@example.com' }),
        ]);
        const reference = mine
          .map((e) => e.event)
          .sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || compareText(b.id, a.id));
        expect(await store.listRecipientEvents(ADA, 100)).toEqual(reference);
        expect(await store.listRecipientEvents(ADA, 3)).toEqual(reference.slice(0, 3));
        expect(await store.listRecipientEvents('nobody@example.com', 10)).toEqual([]);
      });
    });
  });
  runStatsContract(name, makeStore);
}
