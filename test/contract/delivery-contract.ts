import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { selectForReplay } from '../../src/delivery/replay.js';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import { routeEvent } from '../../src/pipeline/fan-out.js';
import type {
  AttemptResult,
  BatchSummary,
  ClaimedDelivery,
  DeliveryRecord,
  DeliveryStatus,
  EndpointPatch,
  EndpointRecord,
  EndpointTransition,
  FairClaimOptions,
  InboxInsert,
  InboxRow,
  NewDelivery,
  NewEvent,
  RecordOptions,
  ReplayRecord,
  ReplaySelect,
  RouteEvent,
  RowOutcome,
  Store,
} from '../../src/store/store.js';
import { endpointRecord as endpointRecordAt } from '../helpers/endpoint-record.js';
import type { MakeStore } from './store-contract.js';

/**
 * The delivery half of the Store contract: endpoints, fan-out, deliveries under leases, attempts
 * (fenced on the lease owner) and replays. Every implementation runs it through the Store interface
 * only; each test gets a fresh, migrated store from `makeStore` and owns its state.
 */

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const LEASE = 5 * MINUTE;
const SOURCE = 'src_01JDDELIVERYCONTRACT000000';

/** The instant `ms` after T0. */
function at(ms: number): Date {
  return new Date(T0 + ms);
}

function endpointRecord(overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  return endpointRecordAt({ headers: { 'x-team': 'growth' }, ...overrides }, new Date(T0));
}

interface EventSpec {
  type?: string;
  /** Milliseconds after T0. */
  offset?: number;
  tags?: string[];
}

function canonicalEvent(spec: EventSpec = {}): CanonicalEvent {
  const type = spec.type ?? 'email.delivered';
  const timestamp = at(spec.offset ?? 0).toISOString();
  const providerEventId = `sg_${Math.random().toString(36).slice(2, 12)}`;
  return {
    id: newId('event'),
    type,
    timestamp,
    data: {
      provider: 'sendgrid',
      source_id: SOURCE,
      provider_event_id: providerEventId,
      message_id: 'x5vSjPT7RUq2b4kLzO8rqA.filterdrecv-5bd8c7f9-abcde-1-6727',
      recipient: 'ada@example.com',
      user_agent: null,
      ip: null,
      tags: spec.tags ?? ['newsletter'],
      metadata: { customer_id: '42', note: 'Zoë — café' },
      received_at: new Date(Date.parse(timestamp) + 1234).toISOString(),
      raw: { email: 'ada@example.com', event: type.replace(/^email\./, ''), sg_event_id: providerEventId },
    },
  };
}

function newEvent(spec: EventSpec = {}, dedupKey?: string): NewEvent {
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

/** Stores events the way the pipeline does, one inbox row per event, routed when `route` is given. */
async function storeEvents(store: Store, events: NewEvent[], route?: RouteEvent): Promise<BatchSummary> {
  const rows = events.map((item) => inboxInsert(item.event.data.source_id));
  const byRow = new Map(rows.map((row, i) => [row.id, events[i]]));
  await store.appendInbox(rows);
  const plan = (claimed: InboxRow[]): RowOutcome[] =>
    claimed.map((row) => {
      const item = byRow.get(row.id);
      return { inboxId: row.id, kind: 'processed', events: item ? [item] : [], notes: [] };
    });
  const summary = await store.processInbox(rows.length, plan, route ? { route } : undefined);
  expect(summary.rows).toBe(rows.length);
  return summary;
}

function newDelivery(eventId: string, endpointId: string, overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id: newId('delivery'),
    eventId,
    endpointId,
    origin: 'event',
    dedupe: '',
    nextAttemptAt: at(0),
    ...overrides,
  };
}

function claim(
  store: Store,
  owner: string,
  now: Date,
  options: Partial<Pick<FairClaimOptions, 'limit' | 'leaseMs' | 'slots' | 'plan'>> = {},
): Promise<ClaimedDelivery[]> {
  return store.claimDueDeliveries({
    owner,
    now,
    leaseMs: options.leaseMs ?? LEASE,
    limit: options.limit ?? 100,
    slots: options.slots ?? (() => 100),
    ...(options.plan && { plan: options.plan }),
  });
}

interface Outcome {
  status: DeliveryStatus;
  startedAt: Date;
  ok?: boolean;
  nextAttemptAt?: Date | null;
  disableEndpoint?: string | null;
  leaseOwner?: string;
  httpStatus?: number | null;
  durationMs?: number;
}

/** What a worker reports after one attempt of a claimed delivery. */
function result(item: ClaimedDelivery, outcome: Outcome): AttemptResult {
  const ok = outcome.ok ?? outcome.status === 'succeeded';
  return {
    attempt: {
      id: newId('attempt'),
      deliveryId: item.delivery.id,
      endpointId: item.endpoint.id,
      attempt: item.delivery.attempts + 1,
      startedAt: outcome.startedAt,
      durationMs: outcome.durationMs ?? 120,
      ok,
      httpStatus: outcome.httpStatus !== undefined ? outcome.httpStatus : ok ? 200 : 503,
      errorClass: null,
      error: ok ? null : 'HTTP 503 Service Unavailable',
      responseSnippet: ok ? '{"received":true}' : 'upstream connect error',
    },
    leaseOwner: outcome.leaseOwner ?? item.leaseOwner,
    status: outcome.status,
    nextAttemptAt: outcome.nextAttemptAt ?? null,
    disableEndpoint: outcome.disableEndpoint ?? null,
  };
}

function ids(items: readonly { id: string }[]): string[] {
  return items.map((item) => item.id);
}

function claimedIds(items: readonly ClaimedDelivery[]): string[] {
  return items.map((item) => item.delivery.id).sort();
}

function byId<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** `claimed` in the order of `deliveries`. */
function byDelivery(
  claimed: readonly ClaimedDelivery[],
  deliveries: readonly NewDelivery[],
): ClaimedDelivery[] {
  const byId = new Map(claimed.map((item) => [item.delivery.id, item]));
  return deliveries.map((d) => byId.get(d.id) as ClaimedDelivery);
}

function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

function replayRecord(endpointId: string, overrides: Partial<ReplayRecord> = {}): ReplayRecord {
  return {
    id: newId('replay'),
    endpointId,
    since: at(0),
    until: at(10 * MINUTE),
    types: [],
    status: 'running',
    scanned: 0,
    enqueued: 0,
    skipped: 0,
    createdAt: at(HOUR),
    updatedAt: at(HOUR),
    finishedAt: null,
    ...overrides,
  };
}

export function runDeliveryContract(name: string, makeStore: MakeStore): void {
  describe(`${name} delivery`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    async function addEndpoint(overrides: Partial<EndpointRecord> = {}): Promise<EndpointRecord> {
      const endpoint = endpointRecord(overrides);
      await store.createEndpoint(endpoint);
      return endpoint;
    }

    async function addEvents(specs: EventSpec[]): Promise<CanonicalEvent[]> {
      const events = specs.map((spec) => newEvent(spec));
      await storeEvents(store, events);
      return events.map((item) => item.event);
    }

    /** One active endpoint, one stored event and one delivery of it, due at T0. */
    async function oneDelivery(
      endpointOverrides: Partial<EndpointRecord> = {},
    ): Promise<{ endpoint: EndpointRecord; event: CanonicalEvent; delivery: NewDelivery }> {
      const endpoint = await addEndpoint(endpointOverrides);
      const [event] = await addEvents([{}]);
      const delivery = newDelivery(event!.id, endpoint.id);
      expect(await store.createDeliveries([delivery], at(0))).toBe(1);
      return { endpoint, event: event!, delivery };
    }

    async function claimOne(owner: string, now: Date, leaseMs = LEASE): Promise<ClaimedDelivery> {
      return only(await claim(store, owner, now, { leaseMs }));
    }

    describe('endpoints', () => {
      it('createEndpoint then getEndpoint returns every field as given', async () => {
        const endpoint = endpointRecord({
          description: 'Billing — Zoë’s team',
          eventTypes: ['email.bounced', 'email.*'],
          filter: { metadata: { plan: 'pro', seats: 5, trial: false }, tags: ['vip'] },
          headers: { authorization: 'Bearer 7f3a', 'x-naïve': 'value with "quotes"' },
          secrets: [
            { secret: 'whsec_newnewnewnewnewnewnewnewnewnew', expiresAt: null },
            { secret: 'whsec_oldoldoldoldoldoldoldoldoldold', expiresAt: at(24 * HOUR + 123) },
          ],
          status: 'paused',
          statusReason: 'paused by ops',
          rateLimit: 2.5,
          maxConcurrency: 3,
          createdAt: at(123),
          updatedAt: at(456),
        });
        await store.createEndpoint(endpoint);
        expect(await store.getEndpoint(endpoint.id)).toEqual(endpoint);
      });

      it('getEndpoint returns null for an unknown id', async () => {
        expect(await store.getEndpoint(newId('endpoint'))).toBeNull();
      });

      it('listEndpoints returns every live endpoint whatever its status', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint({ status: 'paused' });
        const c = await addEndpoint({ status: 'disabled', statusReason: 'HTTP 410 Gone' });
        expect(byId(await store.listEndpoints())).toEqual(byId([a, b, c]));
      });

      const base = (): EndpointRecord =>
        endpointRecord({
          eventTypes: ['email.delivered'],
          filter: { tags: ['newsletter'] },
          status: 'paused',
          statusReason: 'paused by ops',
          rateLimit: 5,
          maxConcurrency: 4,
        });

      const patches: Array<{ field: string; patch: EndpointPatch }> = [
        { field: 'url', patch: { url: 'https://hooks.example.org/v2/mailhook?team=eu' } },
        { field: 'description', patch: { description: 'CRM sync (EU)' } },
        { field: 'eventTypes', patch: { eventTypes: ['email.bounced', 'email.complained'] } },
        { field: 'eventTypes (to every type)', patch: { eventTypes: [] } },
        { field: 'filter', patch: { filter: { recipient_domains: ['example.com'] } } },
        { field: 'filter (to null)', patch: { filter: null } },
        { field: 'headers', patch: { headers: { authorization: 'Bearer rotated' } } },
        {
          field: 'secrets',
          patch: {
            secrets: [
              { secret: 'whsec_rotatedrotatedrotatedrotated', expiresAt: null },
              { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', expiresAt: at(24 * HOUR + 7) },
            ],
          },
        },
        { field: 'status', patch: { status: 'active' } },
        { field: 'statusReason', patch: { statusReason: 'maintenance window' } },
        { field: 'statusReason (to null)', patch: { statusReason: null } },
        { field: 'rateLimit', patch: { rateLimit: 0.5 } },
        { field: 'rateLimit (to null)', patch: { rateLimit: null } },
        { field: 'maxConcurrency', patch: { maxConcurrency: 1 } },
      ];

      for (const { field, patch } of patches) {
        it(`updateEndpoint with only ${field} changes it, keeps every other field and moves updatedAt`, async () => {
          const endpoint = base();
          await store.createEndpoint(endpoint);
          const later = at(5 * MINUTE);
          const expected = { ...endpoint, ...patch, updatedAt: later };
          expect(await store.updateEndpoint(endpoint.id, patch, later)).toEqual(expected);
          expect(await store.getEndpoint(endpoint.id)).toEqual(expected);
        });
      }

      it('updateEndpoint with an empty patch only moves updatedAt', async () => {
        const endpoint = await addEndpoint();
        const later = at(MINUTE);
        expect(await store.updateEndpoint(endpoint.id, {}, later)).toEqual({ ...endpoint, updatedAt: later });
      });

      it('updateEndpoint with resetFailures clears consecutiveFailures and firstFailureAt, and only then', async () => {
        const { endpoint } = await oneDelivery();
        const item = await claimOne('worker-a', at(0));
        await store.recordAttempts(
          [result(item, { status: 'pending', nextAttemptAt: at(MINUTE), startedAt: at(SECOND) })],
          at(2 * SECOND),
        );
        const failing = await store.getEndpoint(endpoint.id);
        expect(failing?.consecutiveFailures).toBe(1);
        expect(failing?.firstFailureAt).not.toBeNull();

        const kept = await store.updateEndpoint(endpoint.id, { description: 'still failing' }, at(MINUTE));
        expect(kept).toMatchObject({ consecutiveFailures: 1, firstFailureAt: failing?.firstFailureAt });

        const reset = await store.updateEndpoint(endpoint.id, { resetFailures: true }, at(2 * MINUTE));
        const expected = {
          ...failing,
          description: 'still failing',
          consecutiveFailures: 0,
          firstFailureAt: null,
          updatedAt: at(2 * MINUTE),
        };
        expect(reset).toEqual(expected);
        expect(await store.getEndpoint(endpoint.id)).toEqual(expected);
      });

      it('secrets round-trip in order with their expiresAt through create and update', async () => {
        const secrets = [
          { secret: 'whsec_third', expiresAt: null },
          { secret: 'whsec_second', expiresAt: at(HOUR + 1) },
          { secret: 'whsec_first', expiresAt: at(HOUR) },
        ];
        const endpoint = await addEndpoint({ secrets });
        expect((await store.getEndpoint(endpoint.id))?.secrets).toEqual(secrets);
        const rotated = [
          { secret: 'whsec_fourth', expiresAt: null },
          { ...secrets[0]!, expiresAt: at(2 * HOUR) },
        ];
        await store.updateEndpoint(endpoint.id, { secrets: rotated }, at(MINUTE));
        const stored = await store.getEndpoint(endpoint.id);
        expect(stored?.secrets).toEqual(rotated);
        expect(stored?.secrets[1]?.expiresAt).toBeInstanceOf(Date);
      });

      it('updateEndpoint returns null for an unknown endpoint', async () => {
        expect(await store.updateEndpoint(newId('endpoint'), { description: 'x' }, at(0))).toBeNull();
      });

      it('deleteEndpoint hides the endpoint from getEndpoint, listEndpoints and updateEndpoint', async () => {
        const kept = await addEndpoint();
        const gone = await addEndpoint();
        expect(await store.deleteEndpoint(gone.id, at(MINUTE))).toBe(true);
        expect(await store.getEndpoint(gone.id)).toBeNull();
        expect(await store.listEndpoints()).toEqual([kept]);
        expect(await store.updateEndpoint(gone.id, { status: 'active' }, at(2 * MINUTE))).toBeNull();
        expect(await store.getEndpoint(gone.id)).toBeNull();
      });

      it('deleteEndpoint returns false for an unknown or already deleted endpoint', async () => {
        const endpoint = await addEndpoint();
        expect(await store.deleteEndpoint(newId('endpoint'), at(0))).toBe(false);
        expect(await store.deleteEndpoint(endpoint.id, at(0))).toBe(true);
        expect(await store.deleteEndpoint(endpoint.id, at(MINUTE))).toBe(false);
      });

      it("deleteEndpoint fails its pending deliveries with 'endpoint deleted' and leaves the rest alone", async () => {
        const endpoint = await addEndpoint();
        const other = await addEndpoint();
        const [e1, e2] = await addEvents([{}, {}]);
        const done = newDelivery(e1!.id, endpoint.id);
        const pending = newDelivery(e2!.id, endpoint.id, { nextAttemptAt: at(HOUR) });
        const leased = newDelivery(e2!.id, endpoint.id, {
          dedupe: 'redeliver:1',
          origin: 'redeliver',
          nextAttemptAt: at(3),
        });
        const elsewhere = newDelivery(e1!.id, other.id, { nextAttemptAt: at(HOUR) });
        await store.createDeliveries([done, pending, leased, elsewhere], at(0));
        const first = await claim(store, 'worker-a', at(0), { slots: (e) => (e.id === endpoint.id ? 1 : 0) });
        await store.recordAttempts([result(only(first), { status: 'succeeded', startedAt: at(1) })], at(2));
        const second = only(await claim(store, 'worker-a', at(3)));
        expect(second.delivery.id).toBe(leased.id);
        const succeeded = await store.getDelivery(done.id);

        expect(await store.deleteEndpoint(endpoint.id, at(MINUTE))).toBe(true);
        for (const id of [pending.id, leased.id]) {
          expect(await store.getDelivery(id)).toMatchObject({
            status: 'failed',
            lastError: 'endpoint deleted',
          });
        }
        expect(await store.getDelivery(done.id)).toEqual(succeeded);
        expect(await store.getDelivery(elsewhere.id)).toMatchObject({ status: 'pending', lastError: null });
        expect(await claim(store, 'worker-b', at(10 * HOUR))).toEqual([
          expect.objectContaining({ delivery: expect.objectContaining({ id: elsewhere.id }) }),
        ]);
      });
    });

    describe('fan-out', () => {
      it('processInbox with a route creates one delivery per new event and matching endpoint, paused included, disabled and deleted not', async () => {
        const all = await addEndpoint();
        const paused = await addEndpoint({ status: 'paused', eventTypes: ['email.delivered'] });
        const bounces = await addEndpoint({ eventTypes: ['email.bounced'] });
        const vip = await addEndpoint({ filter: { tags: ['vip'] } });
        const disabled = await addEndpoint({ status: 'disabled', statusReason: 'HTTP 410 Gone' });
        const deleted = await addEndpoint();
        await store.deleteEndpoint(deleted.id, at(0));

        const delivered = newEvent({ type: 'email.delivered' });
        const opened = newEvent({ type: 'email.opened', tags: ['vip'] });
        const route = vi.fn(routeEvent);
        const summary = await storeEvents(store, [delivered, opened], route);
        expect(summary).toMatchObject({
          rows: 2,
          processed: 2,
          quarantined: 0,
          inserted: 2,
          duplicates: 0,
          deliveries: 4,
        });
        const targets = async (endpoint: EndpointRecord) =>
          (await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items
            .map((d) => d.eventId)
            .sort();
        expect(await targets(all)).toEqual([delivered.event.id, opened.event.id].sort());
        expect(await targets(paused)).toEqual([delivered.event.id]);
        expect(await targets(vip)).toEqual([opened.event.id]);
        expect(await targets(bounces)).toEqual([]);
        expect(await targets(disabled)).toEqual([]);
        expect(await targets(deleted)).toEqual([]);
        expect((await store.listDeliveries({ limit: 100 })).items).toHaveLength(4);
      });

      it('fans a batch out to more deliveries than one PostgreSQL statement binds', async () => {
        // 70 events × 100 endpoints = 7,000 deliveries of 10 columns: more than the 65,535 values
        // one statement may bind.
        const endpoints = [];
        for (let i = 0; i < 100; i++) endpoints.push(await addEndpoint());
        const events = Array.from({ length: 70 }, () => newEvent());
        const summary = await storeEvents(store, events, routeEvent);
        expect(summary).toMatchObject({ inserted: 70, deliveries: 7000 });
        for (const endpoint of [endpoints[0]!, endpoints[99]!]) {
          const listed = (await store.listDeliveries({ endpointId: endpoint.id, limit: 100 })).items;
          expect(listed.map((d) => d.eventId).sort()).toEqual(events.map((e) => e.event.id).sort());
        }
      });

      it('a duplicate event gets no delivery', async () => {
        const endpoint = await addEndpoint();
        const first = await storeEvents(store, [newEvent({}, 'sg_evt_dup')], routeEvent);
        expect(first).toMatchObject({ inserted: 1, duplicates: 0, deliveries: 1 });
        const again = await storeEvents(
          store,
          [newEvent({}, 'sg_evt_dup'), newEvent({}, 'sg_evt_new')],
          routeEvent,
        );
        expect(again).toMatchObject({ inserted: 1, duplicates: 1, deliveries: 1 });
        expect((await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items).toHaveLength(2);
      });

      it('processInbox without a route creates no deliveries', async () => {
        const endpoint = await addEndpoint();
        const summary = await storeEvents(store, [newEvent(), newEvent()]);
        expect(summary).toMatchObject({ inserted: 2, deliveries: 0 });
        expect((await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items).toEqual([]);
      });

      it('processInbox with a route but no endpoint creates no deliveries', async () => {
        const summary = await storeEvents(store, [newEvent()], routeEvent);
        expect(summary).toMatchObject({ inserted: 1, deliveries: 0 });
        expect((await store.listDeliveries({ limit: 10 })).items).toEqual([]);
      });

      it('fan-out deliveries start pending with no attempts, origin event and due now', async () => {
        const endpoint = await addEndpoint();
        const item = newEvent();
        const before = Date.now();
        await storeEvents(store, [item], routeEvent);
        const after = Date.now();
        const delivery = only((await store.listDeliveries({ eventId: item.event.id, limit: 10 })).items);
        expect(delivery).toMatchObject({
          eventId: item.event.id,
          endpointId: endpoint.id,
          origin: 'event',
          status: 'pending',
          attempts: 0,
          lastStatus: null,
          lastError: null,
          completedAt: null,
        });
        expect(await store.getDelivery(delivery.id)).toEqual(delivery);
        // A wide window: a server-side clock (PostgreSQL now()) may differ slightly from ours.
        const due = delivery.nextAttemptAt?.getTime() ?? Number.NaN;
        expect(due).toBeGreaterThanOrEqual(before - MINUTE);
        expect(due).toBeLessThanOrEqual(after + MINUTE);
      });
    });

    describe('createDeliveries', () => {
      it('skips a delivery with the same event, endpoint and dedupe and returns how many it inserted', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint();
        const [event] = await addEvents([{}]);
        const fanOut = newDelivery(event!.id, a.id);
        const replay = newDelivery(event!.id, a.id, { origin: 'replay', dedupe: 'replay:rpl_1' });
        expect(await store.createDeliveries([fanOut, replay], at(0))).toBe(2);

        const again = newDelivery(event!.id, a.id);
        const redeliver = newDelivery(event!.id, a.id, { origin: 'redeliver', dedupe: 'redeliver:1' });
        const otherEndpoint = newDelivery(event!.id, b.id);
        expect(await store.createDeliveries([again, redeliver, otherEndpoint], at(MINUTE))).toBe(2);
        expect(await store.getDelivery(again.id)).toBeNull();
        expect(await store.getDelivery(fanOut.id)).toMatchObject({ origin: 'event', createdAt: at(0) });
        expect(await store.createDeliveries([], at(0))).toBe(0);
        expect((await store.listDeliveries({ eventId: event!.id, limit: 10 })).items).toHaveLength(4);
      });

      it('stores a new delivery as pending with its origin, due time and creation time', async () => {
        const { delivery } = await oneDelivery();
        expect(await store.getDelivery(delivery.id)).toEqual({
          id: delivery.id,
          eventId: delivery.eventId,
          endpointId: delivery.endpointId,
          origin: 'event',
          status: 'pending',
          attempts: 0,
          nextAttemptAt: at(0),
          lastStatus: null,
          lastError: null,
          createdAt: at(0),
          updatedAt: at(0),
          completedAt: null,
        } satisfies DeliveryRecord);
      });

      it('a test-send delivery with a payload and an event that is not stored is claimable and carries that payload', async () => {
        const endpoint = await addEndpoint();
        const sample = canonicalEvent({ type: 'email.bounced' });
        const payload = JSON.stringify(sample);
        const test = newDelivery(sample.id, endpoint.id, { origin: 'test', dedupe: 'test:1', payload });
        expect(await store.createDeliveries([test], at(0))).toBe(1);
        expect(await store.getEvent(sample.id)).toBeNull();
        const item = only(await claim(store, 'worker-a', at(0)));
        expect(item.delivery).toMatchObject({ id: test.id, eventId: sample.id, origin: 'test' });
        expect(item.payload).toBe(payload);
      });
    });

    describe('claimDueDeliveries', () => {
      it('claims a delivery once nextAttemptAt <= now and not before', async () => {
        const endpoint = await addEndpoint();
        const [event] = await addEvents([{}]);
        const now = newDelivery(event!.id, endpoint.id, { nextAttemptAt: at(0) });
        const later = newDelivery(event!.id, endpoint.id, {
          origin: 'redeliver',
          dedupe: 'redeliver:1',
          nextAttemptAt: at(MINUTE),
        });
        await store.createDeliveries([now, later], at(0));
        expect(claimedIds(await claim(store, 'worker-a', at(-1)))).toEqual([]);
        expect(claimedIds(await claim(store, 'worker-a', at(0)))).toEqual([now.id]);
        expect(claimedIds(await claim(store, 'worker-a', at(MINUTE - 1)))).toEqual([]);
        expect(claimedIds(await claim(store, 'worker-b', at(MINUTE)))).toEqual([later.id]);
      });

      it('claims only deliveries of active endpoints, not paused or disabled ones', async () => {
        const active = await addEndpoint();
        const paused = await addEndpoint({ status: 'paused' });
        const disabled = await addEndpoint({ status: 'disabled', statusReason: 'HTTP 410 Gone' });
        const [event] = await addEvents([{}]);
        const deliveries = [active, paused, disabled].map((e) => newDelivery(event!.id, e.id));
        await store.createDeliveries(deliveries, at(0));
        const claimed = await claim(store, 'worker-a', at(0));
        expect(claimedIds(claimed)).toEqual([deliveries[0]!.id]);

        await store.updateEndpoint(paused.id, { status: 'active' }, at(MINUTE));
        expect(claimedIds(await claim(store, 'worker-a', at(MINUTE)))).toEqual([deliveries[1]!.id]);
        expect(await store.getDelivery(deliveries[2]!.id)).toMatchObject({ status: 'pending', attempts: 0 });
      });

      it('claims only pending deliveries', async () => {
        const { delivery } = await oneDelivery();
        const item = await claimOne('worker-a', at(0));
        await store.recordAttempts([result(item, { status: 'succeeded', startedAt: at(1) })], at(2));
        expect(await claim(store, 'worker-b', at(10 * HOUR))).toEqual([]);
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'succeeded' });
      });

      it('claims at most limit deliveries in all', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint();
        const events = await addEvents([{}, {}, {}]);
        await store.createDeliveries(
          events.flatMap((e) => [newDelivery(e.id, a.id), newDelivery(e.id, b.id)]),
          at(0),
        );
        const first = await claim(store, 'worker-a', at(0), { limit: 4 });
        expect(first).toHaveLength(4);
        const second = await claim(store, 'worker-b', at(0), { limit: 4 });
        expect(second).toHaveLength(2);
        expect(new Set([...claimedIds(first), ...claimedIds(second)]).size).toBe(6);
        expect(await claim(store, 'worker-c', at(0), { limit: 0 })).toEqual([]);
      });

      it('claims at most slots(endpoint) deliveries of each endpoint', async () => {
        const a = await addEndpoint({ maxConcurrency: 2 });
        const b = await addEndpoint({ maxConcurrency: 1 });
        const c = await addEndpoint({ maxConcurrency: 0 });
        const events = await addEvents([{}, {}, {}]);
        await store.createDeliveries(
          events.flatMap((e) => [a, b, c].map((endpoint) => newDelivery(e.id, endpoint.id))),
          at(0),
        );
        const seen: EndpointRecord[] = [];
        const slots = (endpoint: EndpointRecord): number => {
          seen.push(endpoint);
          return endpoint.maxConcurrency;
        };
        const claimed = await claim(store, 'worker-a', at(0), { slots });
        const per = (endpoint: EndpointRecord) =>
          claimed.filter((item) => item.endpoint.id === endpoint.id).length;
        expect([per(a), per(b), per(c)]).toEqual([2, 1, 0]);
        for (const endpoint of seen) expect(endpoint).toEqual(await store.getEndpoint(endpoint.id));
        expect(await claim(store, 'worker-b', at(0), { slots: () => 0 })).toEqual([]);
      });

      it('does not claim a leased delivery for another owner until the lease expires, and then does', async () => {
        const { delivery } = await oneDelivery();
        const first = await claimOne('worker-a', at(0), 30 * SECOND);
        expect(first.leaseOwner).toBe('worker-a');
        expect(await claim(store, 'worker-b', at(0))).toEqual([]);
        expect(await claim(store, 'worker-b', at(30 * SECOND - 1))).toEqual([]);
        const second = await claimOne('worker-b', at(30 * SECOND + 1), 30 * SECOND);
        expect(second.delivery.id).toBe(delivery.id);
        expect(second.leaseOwner).toBe('worker-b');
        expect(await claim(store, 'worker-a', at(45 * SECOND))).toEqual([]);
      });

      it('returns the delivery, its endpoint, the lease owner and the stored event JSON as payload', async () => {
        const { endpoint, event, delivery } = await oneDelivery({ headers: { authorization: 'Bearer x' } });
        const item = await claimOne('worker-a', at(0));
        expect(item.leaseOwner).toBe('worker-a');
        expect(item.delivery).toEqual(await store.getDelivery(delivery.id));
        expect(item.delivery).toMatchObject({ id: delivery.id, status: 'pending', attempts: 0 });
        expect(item.endpoint).toEqual(endpoint);
        expect(typeof item.payload).toBe('string');
        expect(JSON.parse(item.payload)).toStrictEqual(event);
        expect(JSON.parse(item.payload)).toStrictEqual(await store.getEvent(event.id));
      });

      it('hands plan, once and before any slots call, exactly the active endpoints with due deliveries nobody holds', async () => {
        const due = await addEndpoint({ description: 'due' });
        const later = await addEndpoint({ description: 'due later' });
        const held = await addEndpoint({ description: 'every due delivery leased' });
        const paused = await addEndpoint({ status: 'paused' });
        const disabled = await addEndpoint({ status: 'disabled', statusReason: 'HTTP 410 Gone' });
        const deleted = await addEndpoint({ description: 'deleted' });
        await addEndpoint({ description: 'nothing at all' });
        const events = await addEvents([{}, {}]);
        await store.createDeliveries(
          [
            ...events.map((e) => newDelivery(e.id, due.id)),
            newDelivery(events[0]!.id, later.id, { nextAttemptAt: at(MINUTE) }),
            newDelivery(events[0]!.id, held.id),
            ...[paused, disabled, deleted].map((e) => newDelivery(events[0]!.id, e.id)),
          ],
          at(0),
        );
        await store.deleteEndpoint(deleted.id, at(0));
        // Another worker holds the only due delivery of `held`.
        const taken = await claim(store, 'worker-b', at(0), {
          slots: (endpoint) => (endpoint.id === held.id ? 1 : 0),
        });
        expect(taken.map((item) => item.endpoint.id)).toEqual([held.id]);

        const calls: string[] = [];
        const planned: EndpointRecord[][] = [];
        const claimed = await claim(store, 'worker-a', at(0), {
          plan: (endpoints) => {
            calls.push('plan');
            planned.push([...endpoints]);
          },
          slots: (endpoint) => {
            calls.push(`slots ${endpoint.id}`);
            return 100;
          },
        });
        expect(calls).toEqual(['plan', `slots ${due.id}`]);
        expect(planned).toEqual([[await store.getEndpoint(due.id)]]);
        expect(claimedIds(claimed)).toHaveLength(2);
        expect(claimed.every((item) => item.endpoint.id === due.id)).toBe(true);

        // Once the leases expire and `later` is due, all three are planned; with nothing due, plan([]).
        const after: string[][] = [];
        await claim(store, 'worker-a', at(LEASE + 1), {
          plan: (endpoints) => after.push(endpoints.map((e) => e.id).sort()),
        });
        expect(after).toEqual([[due.id, later.id, held.id].sort()]);
        await claim(store, 'worker-a', at(LEASE + 2), {
          plan: (endpoints) => after.push(endpoints.map((e) => e.id)),
        });
        expect(after[1]).toEqual([]);
      });

      it('claims round-robin across endpoints when the limit is short: one of each endpoint before a second of any', async () => {
        const endpoints = [await addEndpoint(), await addEndpoint(), await addEndpoint()];
        const events = await addEvents(Array.from({ length: 5 }, () => ({})));
        await store.createDeliveries(
          events.flatMap((e) => endpoints.map((endpoint) => newDelivery(e.id, endpoint.id))),
          at(0),
        );
        for (const limit of [3, 6]) {
          const claimed = await claim(store, `worker-${limit}`, at(0), { limit, slots: () => 5 });
          const per = endpoints.map(
            (endpoint) => claimed.filter((i) => i.endpoint.id === endpoint.id).length,
          );
          expect(per).toEqual(endpoints.map(() => limit / 3));
        }
        // 9 of 15 are leased now; each endpoint has 2 left.
        const rest = await claim(store, 'worker-z', at(0), { limit: 100, slots: () => 5 });
        expect(rest).toHaveLength(6);
      });

      it("claims an endpoint's oldest due deliveries first, whatever order they were created in", async () => {
        const endpoint = await addEndpoint();
        const events = await addEvents([{}, {}, {}, {}]);
        const deliveries = events.map((e, i) =>
          newDelivery(e.id, endpoint.id, { nextAttemptAt: at(-[1, 4, 2, 3][i]! * SECOND) }),
        );
        await store.createDeliveries(deliveries, at(0));
        const first = await claim(store, 'worker-a', at(0), { slots: () => 2 });
        expect(claimedIds(first)).toEqual([deliveries[1]!.id, deliveries[3]!.id].sort());
        const second = await claim(store, 'worker-a', at(0), { slots: () => 2 });
        expect(claimedIds(second)).toEqual([deliveries[2]!.id, deliveries[0]!.id].sort());
      });

      it('owners claiming at the same time with per-endpoint quotas never get the same delivery and miss none', async () => {
        const endpoints = await Promise.all(Array.from({ length: 4 }, () => addEndpoint()));
        const events = await addEvents(Array.from({ length: 10 }, () => ({})));
        await store.createDeliveries(
          events.flatMap((e) => endpoints.map((endpoint) => newDelivery(e.id, endpoint.id))),
          at(0),
        );
        const owners = ['worker-a', 'worker-b', 'worker-c'];
        const seen: string[] = [];
        for (let round = 0; round < 10 && seen.length < 40; round++) {
          const batches = await Promise.all(
            owners.map((owner) =>
              claim(store, owner, at(0), {
                limit: 7,
                slots: () => 3,
                plan: () => undefined,
              }),
            ),
          );
          for (const batch of batches) {
            expect(batch.length).toBeLessThanOrEqual(7);
            seen.push(...claimedIds(batch));
          }
        }
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toHaveLength(40);
      });

      it('two owners claiming at the same time never get the same delivery', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint();
        const events = await addEvents(Array.from({ length: 15 }, () => ({})));
        await store.createDeliveries(
          events.flatMap((e) => [newDelivery(e.id, a.id), newDelivery(e.id, b.id)]),
          at(0),
        );
        const [first, second] = await Promise.all([
          claim(store, 'worker-a', at(0), { limit: 20 }),
          claim(store, 'worker-b', at(0), { limit: 20 }),
        ]);
        const all = [...claimedIds(first), ...claimedIds(second)];
        expect(new Set(all).size).toBe(all.length);
        expect(all).toHaveLength(30);
        expect(first.every((item) => item.leaseOwner === 'worker-a')).toBe(true);
        expect(second.every((item) => item.leaseOwner === 'worker-b')).toBe(true);
      });
    });

    describe('recordAttempts', () => {
      it('a success marks the delivery succeeded and completed, counts the attempt and resets the endpoint failure streak', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const failed = await claimOne('worker-a', at(0));
        await store.recordAttempts(
          [result(failed, { status: 'pending', nextAttemptAt: at(MINUTE), startedAt: at(SECOND) })],
          at(2 * SECOND),
        );
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({ consecutiveFailures: 1 });

        const item = await claimOne('worker-b', at(MINUTE));
        expect(item.delivery.attempts).toBe(1);
        await store.recordAttempts(
          [result(item, { status: 'succeeded', startedAt: at(MINUTE + SECOND), httpStatus: 204 })],
          at(MINUTE + 2 * SECOND),
        );
        const stored = await store.getDelivery(delivery.id);
        expect(stored).toMatchObject({
          status: 'succeeded',
          attempts: 2,
          lastStatus: 204,
          lastError: null,
          completedAt: at(MINUTE + 2 * SECOND),
        });
        const healthy = await store.getEndpoint(endpoint.id);
        expect(healthy).toMatchObject({ consecutiveFailures: 0, firstFailureAt: null, status: 'active' });
        const lastSuccess = healthy?.lastSuccessAt?.getTime() ?? Number.NaN;
        expect(lastSuccess).toBeGreaterThanOrEqual(at(MINUTE + SECOND).getTime());
        expect(lastSuccess).toBeLessThanOrEqual(at(MINUTE + 2 * SECOND).getTime());
        expect(await store.releaseAllLeases()).toBe(0);
      });

      it('a failure with a retry leaves the delivery pending, frees its lease until nextAttemptAt and starts the failure streak', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const item = await claimOne('worker-a', at(0), HOUR);
        await store.recordAttempts(
          [result(item, { status: 'pending', nextAttemptAt: at(MINUTE), startedAt: at(SECOND) })],
          at(2 * SECOND),
        );
        expect(await store.getDelivery(delivery.id)).toMatchObject({
          status: 'pending',
          attempts: 1,
          nextAttemptAt: at(MINUTE),
          lastStatus: 503,
          lastError: expect.any(String),
          completedAt: null,
        });
        const failing = await store.getEndpoint(endpoint.id);
        expect(failing).toMatchObject({ consecutiveFailures: 1, status: 'active', lastSuccessAt: null });
        const firstFailure = failing?.firstFailureAt?.getTime() ?? Number.NaN;
        expect(firstFailure).toBeGreaterThanOrEqual(at(SECOND).getTime());
        expect(firstFailure).toBeLessThanOrEqual(at(2 * SECOND).getTime());
        expect(failing?.lastFailureAt).toBeInstanceOf(Date);

        // The lease (an hour) is gone: another owner takes the retry when it is due.
        expect(await claim(store, 'worker-b', at(MINUTE - 1))).toEqual([]);
        expect(claimedIds(await claim(store, 'worker-b', at(MINUTE)))).toEqual([delivery.id]);
      });

      it('one call with several results for one endpoint applies them in order, as one at a time would', async () => {
        const endpoint = await addEndpoint();
        const events = await addEvents([{}, {}, {}, {}, {}]);
        const deliveries = events.map((event) => newDelivery(event.id, endpoint.id));
        expect(await store.createDeliveries(deliveries, at(0))).toBe(5);
        const claimed = byDelivery(await claim(store, 'worker-a', at(0)), deliveries);
        const [d1, d2, d3, d4, d5] = claimed as [
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
        ];
        const results = [
          result(d1, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(1 * SECOND) }),
          result(d2, { status: 'succeeded', startedAt: at(2 * SECOND) }),
          result(d3, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(3 * SECOND) }),
          // Not this owner's lease: listed, but it changes nothing.
          result(d5, { status: 'succeeded', startedAt: at(4 * SECOND), leaseOwner: 'worker-z' }),
          result(d4, { status: 'failed', startedAt: at(5 * SECOND), httpStatus: 500 }),
        ];
        const transitions = await store.recordAttempts(results, at(6 * SECOND));
        expect(transitions).toEqual([
          expect.objectContaining({ kind: 'exhausted', deliveryId: d4.delivery.id, consecutiveFailures: 2 }),
        ]);
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 2,
          firstFailureAt: at(3 * SECOND),
          lastSuccessAt: at(2 * SECOND),
          lastFailureAt: at(5 * SECOND),
          status: 'active',
        });
        expect(await store.getDelivery(d1.delivery.id)).toMatchObject({ status: 'pending', attempts: 1 });
        expect(await store.getDelivery(d2.delivery.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
        expect(await store.getDelivery(d3.delivery.id)).toMatchObject({ status: 'pending', attempts: 1 });
        expect(await store.getDelivery(d4.delivery.id)).toMatchObject({
          status: 'failed',
          attempts: 1,
          lastStatus: 500,
          completedAt: at(6 * SECOND),
        });
        expect(await store.getDelivery(d5.delivery.id)).toMatchObject({ status: 'pending', attempts: 0 });
        for (const r of results)
          expect(ids(await store.listAttempts(r.attempt.deliveryId))).toEqual([r.attempt.id]);
        // Only d5 is still leased (to worker-a): the others' leases went with their results.
        expect(await store.releaseAllLeases()).toBe(1);
      });

      it('one call raises failing and recovered in order and keeps what earlier calls wrote', async () => {
        const endpoint = await addEndpoint();
        const events = await addEvents([{}, {}, {}, {}, {}]);
        const deliveries = events.map((event) => newDelivery(event.id, endpoint.id));
        await store.createDeliveries(deliveries, at(0));
        const [d0, d1, d2, d3, d4] = byDelivery(await claim(store, 'worker-a', at(0)), deliveries) as [
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
          ClaimedDelivery,
        ];
        const options = { failingAfter: 2, recoverAfterSuccesses: 1, recoverAfterMs: 0, minDwellMs: 0 };
        await store.recordAttempts(
          [result(d0, { status: 'succeeded', startedAt: at(SECOND) })],
          at(SECOND),
          options,
        );
        const transitions = await store.recordAttempts(
          [
            // A timeout: no HTTP status.
            result(d1, {
              status: 'pending',
              nextAttemptAt: at(HOUR),
              startedAt: at(2 * SECOND),
              httpStatus: null,
            }),
            result(d2, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(3 * SECOND) }),
            result(d3, { status: 'succeeded', startedAt: at(4 * SECOND) }),
            result(d4, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(5 * SECOND) }),
          ],
          at(6 * SECOND),
          options,
        );
        expect(transitions.map((t) => [t.kind, t.deliveryId])).toEqual([
          ['failing', d2.delivery.id],
          ['recovered', d3.delivery.id],
        ]);
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 1,
          firstFailureAt: at(5 * SECOND),
          lastSuccessAt: at(4 * SECOND),
          lastFailureAt: at(5 * SECOND),
        });
        expect(await store.getDelivery(d1.delivery.id)).toMatchObject({ lastStatus: null, attempts: 1 });
        // A later call with nothing but a failure keeps the success time the batch wrote.
        const again = only(await claim(store, 'worker-b', at(HOUR), { limit: 1 }));
        await store.recordAttempts(
          [result(again, { status: 'pending', nextAttemptAt: at(2 * HOUR), startedAt: at(HOUR + SECOND) })],
          at(HOUR + 2 * SECOND),
          options,
        );
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 2,
          firstFailureAt: at(5 * SECOND),
          lastSuccessAt: at(4 * SECOND),
          lastFailureAt: at(HOUR + SECOND),
        });
      });

      it('two results for one delivery in one call: the first applies, the second finds the lease gone', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const item = await claimOne('worker-a', at(0));
        const first = result(item, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(SECOND) });
        const second = result(item, { status: 'succeeded', startedAt: at(2 * SECOND) });
        expect(await store.recordAttempts([first, second], at(3 * SECOND))).toEqual([]);
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'pending', attempts: 1 });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 1,
          lastSuccessAt: null,
        });
        expect(ids(await store.listAttempts(delivery.id)).sort()).toEqual(
          [first.attempt.id, second.attempt.id].sort(),
        );
      });

      it('a second failure adds to the streak and keeps firstFailureAt', async () => {
        const { endpoint } = await oneDelivery();
        const first = await claimOne('worker-a', at(0));
        await store.recordAttempts(
          [result(first, { status: 'pending', nextAttemptAt: at(MINUTE), startedAt: at(SECOND) })],
          at(2 * SECOND),
        );
        const firstFailureAt = (await store.getEndpoint(endpoint.id))?.firstFailureAt;
        expect(firstFailureAt).toBeInstanceOf(Date);
        const second = await claimOne('worker-a', at(MINUTE));
        expect(second.endpoint.firstFailureAt).toEqual(firstFailureAt);
        await store.recordAttempts(
          [result(second, { status: 'pending', nextAttemptAt: at(5 * MINUTE), startedAt: at(MINUTE + 1) })],
          at(MINUTE + 2),
        );
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 2,
          firstFailureAt,
        });
      });

      it('a final failure marks the delivery failed and completed', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const item = await claimOne('worker-a', at(0));
        await store.recordAttempts(
          [result(item, { status: 'failed', startedAt: at(SECOND), httpStatus: 500 })],
          at(2 * SECOND),
        );
        expect(await store.getDelivery(delivery.id)).toMatchObject({
          status: 'failed',
          attempts: 1,
          lastStatus: 500,
          lastError: expect.any(String),
          completedAt: at(2 * SECOND),
        });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 1,
          status: 'active',
        });
        expect(await claim(store, 'worker-b', at(10 * HOUR))).toEqual([]);
      });

      it('a result with disableEndpoint disables the endpoint with that reason', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const [event] = await addEvents([{}]);
        const waiting = newDelivery(event!.id, endpoint.id, { nextAttemptAt: at(HOUR) });
        await store.createDeliveries([waiting], at(0));
        const item = await claimOne('worker-a', at(0));
        await store.recordAttempts(
          [
            result(item, {
              status: 'failed',
              startedAt: at(1),
              httpStatus: 410,
              disableEndpoint: 'HTTP 410 Gone',
            }),
          ],
          at(2),
        );
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'failed', lastStatus: 410 });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          status: 'disabled',
          statusReason: 'HTTP 410 Gone',
        });
        expect(await claim(store, 'worker-a', at(HOUR))).toEqual([]);
        expect(await store.getDelivery(waiting.id)).toMatchObject({ status: 'pending' });
      });

      it('a stale failure from an owner whose lease was taken over changes neither the delivery nor the endpoint, but is listed', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const stale = await claimOne('worker-a', at(0), 30 * SECOND);
        const current = await claimOne('worker-b', at(31 * SECOND), 30 * SECOND);
        expect(current.delivery.id).toBe(delivery.id);
        const deliveryBefore = await store.getDelivery(delivery.id);
        const endpointBefore = await store.getEndpoint(endpoint.id);

        const staleResult = result(stale, {
          status: 'failed',
          startedAt: at(SECOND),
          httpStatus: 410,
          disableEndpoint: 'HTTP 410 Gone',
        });
        await store.recordAttempts([staleResult], at(40 * SECOND));
        expect(await store.getDelivery(delivery.id)).toEqual(deliveryBefore);
        expect(await store.getEndpoint(endpoint.id)).toEqual(endpointBefore);
        expect(ids(await store.listAttempts(delivery.id))).toEqual([staleResult.attempt.id]);
        // worker-b still holds the lease, so nobody else can claim it.
        expect(await claim(store, 'worker-c', at(45 * SECOND))).toEqual([]);

        const currentResult = result(current, { status: 'succeeded', startedAt: at(32 * SECOND) });
        await store.recordAttempts([currentResult], at(50 * SECOND));
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          status: 'active',
          consecutiveFailures: 0,
        });
        expect(ids(await store.listAttempts(delivery.id)).sort()).toEqual(
          [staleResult.attempt.id, currentResult.attempt.id].sort(),
        );
      });

      it('a stale success from an owner whose lease was taken over neither completes the delivery nor touches the endpoint', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const stale = await claimOne('worker-a', at(0), 30 * SECOND);
        const current = await claimOne('worker-b', at(31 * SECOND), 30 * SECOND);
        const staleResult = result(stale, { status: 'succeeded', startedAt: at(SECOND) });
        await store.recordAttempts([staleResult], at(35 * SECOND));
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'pending', attempts: 0 });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({ lastSuccessAt: null });

        await store.recordAttempts(
          [result(current, { status: 'pending', nextAttemptAt: at(HOUR), startedAt: at(32 * SECOND) })],
          at(36 * SECOND),
        );
        expect(await store.getDelivery(delivery.id)).toMatchObject({
          status: 'pending',
          attempts: 1,
          nextAttemptAt: at(HOUR),
        });
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({
          consecutiveFailures: 1,
          lastSuccessAt: null,
        });
        expect(ids(await store.listAttempts(delivery.id))).toContain(staleResult.attempt.id);
      });

      it('applies several results of one batch together', async () => {
        const endpoint = await addEndpoint();
        const events = await addEvents([{}, {}, {}]);
        await store.createDeliveries(
          events.map((e) => newDelivery(e.id, endpoint.id)),
          at(0),
        );
        const claimed = await claim(store, 'worker-a', at(0));
        expect(claimed).toHaveLength(3);
        await store.recordAttempts(
          claimed.map((item, i) =>
            result(item, {
              status: i === 0 ? 'succeeded' : 'pending',
              nextAttemptAt: i === 0 ? null : at(MINUTE),
              startedAt: at(SECOND + i),
            }),
          ),
          at(2 * SECOND),
        );
        const statuses = await Promise.all(
          claimed.map(async (item) => (await store.getDelivery(item.delivery.id))?.status),
        );
        expect(statuses).toEqual(['succeeded', 'pending', 'pending']);
        expect((await store.getEndpoint(endpoint.id))?.lastSuccessAt).toBeInstanceOf(Date);
      });

      it('listAttempts returns every attempt of a delivery in order with every field', async () => {
        const { delivery } = await oneDelivery();
        const first = await claimOne('worker-a', at(0));
        const r1 = result(first, { status: 'pending', nextAttemptAt: at(MINUTE), startedAt: at(SECOND) });
        r1.attempt.errorClass = 'timeout';
        r1.attempt.httpStatus = null;
        r1.attempt.error = 'timed out after 10000 ms';
        r1.attempt.responseSnippet = null;
        r1.attempt.durationMs = 10_000;
        await store.recordAttempts([r1], at(12 * SECOND));
        const second = await claimOne('worker-a', at(MINUTE));
        const r2 = result(second, { status: 'succeeded', startedAt: at(MINUTE + SECOND), durationMs: 87 });
        await store.recordAttempts([r2], at(MINUTE + 2 * SECOND));
        expect(await store.listAttempts(delivery.id)).toEqual([r1.attempt, r2.attempt]);
        expect(r2.attempt.attempt).toBe(2);
        expect(await store.listAttempts(newId('delivery'))).toEqual([]);
      });

      it('listAttemptSamples returns time, outcome and duration of an endpoint’s attempts since a time', async () => {
        const { endpoint } = await oneDelivery();
        const other = await addEndpoint();
        const [event] = await addEvents([{}]);
        await store.createDeliveries([newDelivery(event!.id, other.id)], at(0));
        const claimed = await claim(store, 'worker-a', at(0));
        const mine = claimed.find((item) => item.endpoint.id === endpoint.id)!;
        const theirs = claimed.find((item) => item.endpoint.id === other.id)!;
        await store.recordAttempts(
          [
            result(mine, {
              status: 'pending',
              nextAttemptAt: at(MINUTE),
              startedAt: at(SECOND),
              durationMs: 250,
            }),
            result(theirs, { status: 'succeeded', startedAt: at(2 * SECOND), durationMs: 40 }),
          ],
          at(3 * SECOND),
        );
        const again = await claimOne('worker-a', at(MINUTE));
        await store.recordAttempts(
          [result(again, { status: 'succeeded', startedAt: at(MINUTE + SECOND), durationMs: 95 })],
          at(MINUTE + 2 * SECOND),
        );
        const sorted = (samples: { at: Date }[]) =>
          [...samples].sort((x, y) => x.at.getTime() - y.at.getTime());
        expect(sorted(await store.listAttemptSamples(endpoint.id, at(0)))).toEqual([
          { at: at(SECOND), ok: false, durationMs: 250 },
          { at: at(MINUTE + SECOND), ok: true, durationMs: 95 },
        ]);
        expect(await store.listAttemptSamples(endpoint.id, at(30 * SECOND))).toEqual([
          { at: at(MINUTE + SECOND), ok: true, durationMs: 95 },
        ]);
        expect(await store.listAttemptSamples(endpoint.id, at(HOUR))).toEqual([]);
      });
    });

    describe('endpoint health alerts', () => {
      const OPTIONS: RecordOptions = {
        failingAfter: 3,
        recoverAfterSuccesses: 3,
        recoverAfterMs: MINUTE,
        minDwellMs: 3 * MINUTE,
      };

      /** Fails (retry in a day) or succeeds one claimed delivery, as of `ms` after T0. */
      function outcome(item: ClaimedDelivery, ok: boolean, ms: number): AttemptResult {
        return ok
          ? result(item, { status: 'succeeded', startedAt: at(ms) })
          : result(item, { status: 'pending', nextAttemptAt: at(24 * HOUR), startedAt: at(ms) });
      }

      /** An endpoint with `count` due deliveries; each attempt claims one and records it 100 ms later. */
      async function alertingEndpoint(count = 20) {
        const endpoint = await addEndpoint();
        const events = await addEvents(Array.from({ length: count }, () => ({})));
        await store.createDeliveries(
          events.map((e) => newDelivery(e.id, endpoint.id)),
          at(0),
        );
        const attempt = async (
          ok: boolean,
          ms: number,
          options: RecordOptions = OPTIONS,
        ): Promise<EndpointTransition[]> => {
          const item = only(await claim(store, 'worker-a', at(ms), { limit: 1 }));
          return store.recordAttempts([outcome(item, ok, ms)], at(ms + 100), options);
        };
        const kinds = async (ok: boolean, ms: number) => (await attempt(ok, ms)).map((t) => t.kind);
        return { endpoint, attempt, kinds };
      }

      it('failingAfter failures in a row raise failing once, at the last of them', async () => {
        const { endpoint, attempt, kinds } = await alertingEndpoint();
        expect(await kinds(false, 0)).toEqual([]);
        expect(await kinds(false, SECOND)).toEqual([]);
        expect(await attempt(false, 2 * SECOND)).toEqual([
          {
            kind: 'failing',
            endpointId: endpoint.id,
            deliveryId: expect.any(String),
            eventId: expect.any(String),
            consecutiveFailures: 3,
            reason: 'HTTP 503 Service Unavailable',
            at: at(2 * SECOND + 100),
          },
        ]);
        for (let i = 3; i < 10; i++) expect(await kinds(false, i * SECOND)).toEqual([]);
        expect(await store.getEndpoint(endpoint.id)).toMatchObject({ consecutiveFailures: 10 });
      });

      it('a failing endpoint recovers only after recoverAfterSuccesses successes over recoverAfterMs, once', async () => {
        const { endpoint, attempt, kinds } = await alertingEndpoint();
        for (let i = 0; i < 3; i++) await attempt(false, i * SECOND);
        expect(await kinds(true, 4 * MINUTE)).toEqual([]);
        expect(await kinds(true, 4 * MINUTE + 30 * SECOND)).toEqual([]);
        const recovered = await attempt(true, 5 * MINUTE);
        expect(recovered).toEqual([
          expect.objectContaining({
            kind: 'recovered',
            endpointId: endpoint.id,
            consecutiveFailures: 0,
            reason: null,
            at: at(5 * MINUTE + 100),
          }),
        ]);
        for (let i = 1; i <= 5; i++) expect(await kinds(true, 5 * MINUTE + i * SECOND)).toEqual([]);
      });

      it('a failure restarts the run of successes a recovery needs', async () => {
        const { attempt, kinds } = await alertingEndpoint();
        for (let i = 0; i < 3; i++) await attempt(false, i * SECOND);
        for (const ms of [4 * MINUTE, 4 * MINUTE + 20 * SECOND, 4 * MINUTE + 40 * SECOND]) {
          expect(await kinds(true, ms)).toEqual([]);
        }
        expect(await kinds(false, 4 * MINUTE + 50 * SECOND)).toEqual([]);
        // Three successes a minute and more after the first success, but only since the failure do they count.
        for (const ms of [5 * MINUTE, 5 * MINUTE + 20 * SECOND, 5 * MINUTE + 40 * SECOND]) {
          expect(await kinds(true, ms)).toEqual([]);
        }
        expect(await kinds(true, 6 * MINUTE)).toEqual(['recovered']);
      });

      it('minDwellMs holds recovered back after failing, and the next success after it raises it', async () => {
        const { attempt, kinds } = await alertingEndpoint();
        for (let i = 0; i < 3; i++) await attempt(false, i * SECOND);
        // failing was raised at 2.1 s: nothing changes before 3 min 2.1 s, however good the run.
        for (let s = 10; s <= 180; s += 30) expect(await kinds(true, s * SECOND)).toEqual([]);
        expect(await kinds(true, 3 * MINUTE + 3 * SECOND)).toEqual(['recovered']);
      });

      it('minDwellMs holds failing back after recovered; the first failure after it raises it if the streak lasts', async () => {
        const { attempt, kinds } = await alertingEndpoint(30);
        for (let i = 0; i < 3; i++) await attempt(false, i * SECOND);
        for (const ms of [4 * MINUTE, 4 * MINUTE + 30 * SECOND]) await attempt(true, ms);
        expect(await kinds(true, 5 * MINUTE)).toEqual(['recovered']);
        // Recovered at 5 min 0.1 s: failures until 8 min raise nothing…
        for (let s = 10; s < 180; s += 20) expect(await kinds(false, 5 * MINUTE + s * SECOND)).toEqual([]);
        // …and the one after it does, with the whole streak.
        const failing = await attempt(false, 8 * MINUTE + SECOND);
        expect(failing.map((t) => [t.kind, t.consecutiveFailures])).toEqual([['failing', 10]]);
      });

      it('a failing streak that a success ended during the dwell raises nothing after it', async () => {
        const { attempt, kinds } = await alertingEndpoint(30);
        for (let i = 0; i < 3; i++) await attempt(false, i * SECOND);
        for (const ms of [4 * MINUTE, 4 * MINUTE + 30 * SECOND]) await attempt(true, ms);
        expect(await kinds(true, 5 * MINUTE)).toEqual(['recovered']);
        for (let s = 10; s <= 30; s += 10) expect(await kinds(false, 5 * MINUTE + s * SECOND)).toEqual([]);
        expect(await kinds(true, 6 * MINUTE)).toEqual([]);
        expect(await kinds(false, 9 * MINUTE)).toEqual([]);
        expect(await kinds(false, 9 * MINUTE + SECOND)).toEqual([]);
        expect(await kinds(false, 9 * MINUTE + 2 * SECOND)).toEqual(['failing']);
      });

      it('with failingAfter alone: a 3-minute dwell, and failingAfter successes over a minute to recover', async () => {
        const { attempt } = await alertingEndpoint();
        const kinds = async (ok: boolean, ms: number) =>
          (await attempt(ok, ms, { failingAfter: 4 })).map((t) => t.kind);
        for (let i = 0; i < 3; i++) expect(await kinds(false, i * SECOND)).toEqual([]);
        expect(await kinds(false, 3 * SECOND)).toEqual(['failing']);
        for (const ms of [MINUTE, MINUTE + 30 * SECOND, 2 * MINUTE + 10 * SECOND, 3 * MINUTE]) {
          expect(await kinds(true, ms)).toEqual([]);
        }
        expect(await kinds(true, 3 * MINUTE + 4 * SECOND)).toEqual(['recovered']);
        for (let i = 0; i < 3; i++)
          expect(await kinds(false, 6 * MINUTE + 10 * SECOND + i * SECOND)).toEqual([]);
        expect(await kinds(false, 6 * MINUTE + 13 * SECOND)).toEqual(['failing']);
        // Three successes over a minute recover an endpoint that fails after three, not this one.
        for (const ms of [10 * MINUTE, 10 * MINUTE + 30 * SECOND, 11 * MINUTE]) {
          expect(await kinds(true, ms)).toEqual([]);
        }
        expect(await kinds(true, 11 * MINUTE + 10 * SECOND)).toEqual(['recovered']);
      });

      it('exhausted and disabled are raised on every such attempt, whatever the alert', async () => {
        const { endpoint } = await alertingEndpoint(0);
        const events = await addEvents([{}, {}, {}, {}]);
        await store.createDeliveries(
          events.map((e) => newDelivery(e.id, endpoint.id)),
          at(0),
        );
        const claimed = await claim(store, 'worker-a', at(0));
        expect(claimed).toHaveLength(4);
        const [a, b, c, d] = claimed as [ClaimedDelivery, ClaimedDelivery, ClaimedDelivery, ClaimedDelivery];
        const kindsOf = (list: EndpointTransition[]) => list.map((t) => t.kind);
        const failed = (item: ClaimedDelivery, ms: number, disable: string | null = null) =>
          result(item, { status: 'failed', startedAt: at(ms), disableEndpoint: disable });
        expect(kindsOf(await store.recordAttempts([failed(a, 1)], at(2), OPTIONS))).toEqual(['exhausted']);
        expect(kindsOf(await store.recordAttempts([failed(b, 3)], at(4), OPTIONS))).toEqual(['exhausted']);
        expect(kindsOf(await store.recordAttempts([failed(c, 5)], at(6), OPTIONS))).toEqual([
          'failing',
          'exhausted',
        ]);
        expect(kindsOf(await store.recordAttempts([failed(d, 7, 'HTTP 410 Gone')], at(8), OPTIONS))).toEqual([
          'exhausted',
          'disabled',
        ]);
      });

      it('several owners recording one endpoint’s attempts at once raise failing once and recovered once', async () => {
        const { endpoint, attempt } = await alertingEndpoint(0);
        const events = await addEvents(Array.from({ length: 25 }, () => ({})));
        await store.createDeliveries(
          events.map((e) => newDelivery(e.id, endpoint.id)),
          at(0),
        );
        const inGroups = async (ok: boolean, ms: number): Promise<string[]> => {
          const claimed = await claim(store, 'worker-a', at(ms), { limit: 12 });
          expect(claimed).toHaveLength(12);
          const groups = [0, 1, 2, 3].map((g) => claimed.slice(g * 3, g * 3 + 3));
          const lists = await Promise.all(
            groups.map((group) =>
              store.recordAttempts(
                group.map((item) => outcome(item, ok, ms)),
                at(ms + 100),
                OPTIONS,
              ),
            ),
          );
          return lists.flat().map((t) => t.kind);
        };
        expect(await inGroups(false, 0)).toEqual(['failing']);
        expect(await attempt(true, 4 * MINUTE)).toEqual([]);
        expect(await inGroups(true, 5 * MINUTE)).toEqual(['recovered']);
      });

      it('batches over the same endpoints in opposite orders, recorded at once, both commit', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint();
        const events = await addEvents(Array.from({ length: 40 }, () => ({})));
        await store.createDeliveries(
          events.flatMap((e) => [newDelivery(e.id, a.id), newDelivery(e.id, b.id)]),
          at(0),
        );
        const claimed = await claim(store, 'worker-a', at(0), { limit: 80 });
        expect(claimed).toHaveLength(80);
        const of = (endpoint: EndpointRecord) => claimed.filter((item) => item.endpoint.id === endpoint.id);
        const interleave = (x: ClaimedDelivery[], y: ClaimedDelivery[]) =>
          x.flatMap((item, i) => [item, y[i] as ClaimedDelivery]);
        const first = interleave(of(a).slice(0, 20), of(b).slice(0, 20));
        const second = interleave(of(b).slice(20), of(a).slice(20));
        // Both transactions start together on connections already open.
        await Promise.all([a, b, a, b].map((endpoint) => store.getEndpoint(endpoint.id)));
        await Promise.all(
          [first, second].map((batch) =>
            store.recordAttempts(
              batch.map((item) => outcome(item, false, SECOND)),
              at(2 * SECOND),
              OPTIONS,
            ),
          ),
        );
        for (const endpoint of [a, b]) {
          expect(await store.getEndpoint(endpoint.id)).toMatchObject({ consecutiveFailures: 40 });
        }
      });
    });

    describe('leases', () => {
      it('releaseDeliveries makes a claimed delivery claimable again at notBefore and not before', async () => {
        const { delivery } = await oneDelivery();
        await claimOne('worker-a', at(0), HOUR);
        await store.releaseDeliveries([{ id: delivery.id, owner: 'worker-a', notBefore: at(MINUTE) }]);
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'pending', attempts: 0 });
        expect(await claim(store, 'worker-b', at(MINUTE - 1))).toEqual([]);
        expect(claimedIds(await claim(store, 'worker-b', at(MINUTE)))).toEqual([delivery.id]);
      });

      it('releaseDeliveries by an owner that does not hold the lease leaves it in place', async () => {
        const { delivery } = await oneDelivery();
        await claimOne('worker-a', at(0), HOUR);
        await store.releaseDeliveries([{ id: delivery.id, owner: 'worker-b', notBefore: at(0) }]);
        expect(await claim(store, 'worker-b', at(MINUTE))).toEqual([]);
        expect(claimedIds(await claim(store, 'worker-b', at(HOUR + 1)))).toEqual([delivery.id]);
      });

      it('releaseDeliveries of nothing does nothing', async () => {
        await expect(store.releaseDeliveries([])).resolves.toBeUndefined();
      });

      it('releaseAllLeases frees every lease and returns how many', async () => {
        const endpoint = await addEndpoint();
        const events = await addEvents([{}, {}, {}]);
        await store.createDeliveries(
          events.map((e) => newDelivery(e.id, endpoint.id)),
          at(0),
        );
        const claimed = await claim(store, 'worker-a', at(0), { limit: 2, leaseMs: HOUR });
        expect(claimed).toHaveLength(2);
        expect(await store.releaseAllLeases()).toBe(2);
        expect(await claim(store, 'worker-b', at(0))).toHaveLength(3);
        expect(await store.releaseAllLeases()).toBe(3);
        expect(await store.releaseAllLeases()).toBe(0);
      });
    });

    describe('retryDelivery', () => {
      for (const status of ['failed', 'succeeded'] as const) {
        it(`retryDelivery makes a ${status} delivery pending and due now, keeping its attempts`, async () => {
          const { delivery } = await oneDelivery();
          const item = await claimOne('worker-a', at(0));
          await store.recordAttempts([result(item, { status, startedAt: at(1) })], at(2));
          const retried = await store.retryDelivery(delivery.id, at(HOUR));
          expect(retried).toMatchObject({
            id: delivery.id,
            status: 'pending',
            attempts: 1,
            nextAttemptAt: at(HOUR),
            completedAt: null,
          });
          expect(await store.getDelivery(delivery.id)).toEqual(retried);
          expect(await claim(store, 'worker-b', at(HOUR - 1))).toEqual([]);
          const again = only(await claim(store, 'worker-b', at(HOUR)));
          expect(again.delivery).toMatchObject({ id: delivery.id, attempts: 1 });
        });
      }

      it('retryDelivery answers not_found for an unknown id', async () => {
        expect(await store.retryDelivery(newId('delivery'), at(0))).toBe('not_found');
      });

      it('retryDelivery refuses while an attempt holds the lease, and retries once the lease has expired', async () => {
        const { delivery } = await oneDelivery();
        await claimOne('worker-a', at(0));
        expect(await store.retryDelivery(delivery.id, at(1000))).toBe('in_flight');
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'pending', attempts: 0 });
        // The worker died: its lease ran out, and a manual retry may take over.
        expect(await store.retryDelivery(delivery.id, at(LEASE))).toMatchObject({
          id: delivery.id,
          status: 'pending',
        });
        expect(only(await claim(store, 'worker-b', at(LEASE))).delivery.id).toBe(delivery.id);
      });

      it('retryDelivery refuses a delivery whose endpoint was deleted', async () => {
        const { endpoint, delivery } = await oneDelivery();
        const item = await claimOne('worker-a', at(0));
        await store.recordAttempts([result(item, { status: 'failed', startedAt: at(1) })], at(2));
        await store.deleteEndpoint(endpoint.id, at(3));
        expect(await store.retryDelivery(delivery.id, at(4))).toBe('endpoint_deleted');
        expect(await claim(store, 'worker-b', at(HOUR))).toEqual([]);
      });

      it('getDelivery returns null for an unknown id', async () => {
        expect(await store.getDelivery(newId('delivery'))).toBeNull();
      });
    });

    describe('listDeliveries', () => {
      it('filters by endpoint, event and status, newest first', async () => {
        const a = await addEndpoint();
        const b = await addEndpoint();
        const [e1, e2] = await addEvents([{}, {}]);
        const d1 = newDelivery(e1!.id, a.id, { nextAttemptAt: at(HOUR) });
        const d2 = newDelivery(e1!.id, b.id, { nextAttemptAt: at(HOUR) });
        const d3 = newDelivery(e2!.id, a.id, { nextAttemptAt: at(0) });
        const d4 = newDelivery(e2!.id, b.id, { nextAttemptAt: at(HOUR) });
        // Created in another order than their ids: the listing follows the ids.
        await store.createDeliveries([d3, d1], at(0));
        await store.createDeliveries([d4, d2], at(0));
        const item = only(await claim(store, 'worker-a', at(0)));
        await store.recordAttempts([result(item, { status: 'succeeded', startedAt: at(1) })], at(2));

        const list = async (query: Parameters<Store['listDeliveries']>[0]) => {
          const page = await store.listDeliveries(query);
          expect(page.next).toBeNull();
          return ids(page.items);
        };
        expect(await list({ limit: 10 })).toEqual([d4.id, d3.id, d2.id, d1.id]);
        expect(await list({ endpointId: a.id, limit: 10 })).toEqual([d3.id, d1.id]);
        expect(await list({ eventId: e1!.id, limit: 10 })).toEqual([d2.id, d1.id]);
        expect(await list({ status: 'succeeded', limit: 10 })).toEqual([d3.id]);
        expect(await list({ status: 'pending', limit: 10 })).toEqual([d4.id, d2.id, d1.id]);
        expect(await list({ status: 'failed', limit: 10 })).toEqual([]);
        expect(await list({ endpointId: b.id, eventId: e2!.id, status: 'pending', limit: 10 })).toEqual([
          d4.id,
        ]);
        expect(await list({ endpointId: newId('endpoint'), limit: 10 })).toEqual([]);
      });

      it('cursor pagination visits every delivery exactly once', async () => {
        const endpoint = await addEndpoint();
        const other = await addEndpoint();
        const [event] = await addEvents([{}]);
        const deliveries = Array.from({ length: 7 }, (_, i) =>
          newDelivery(event!.id, endpoint.id, { origin: 'redeliver', dedupe: `redeliver:${i}` }),
        );
        await store.createDeliveries([...deliveries, newDelivery(event!.id, other.id)], at(0));
        const pages: DeliveryRecord[][] = [];
        let cursor: string | undefined;
        for (let guard = 0; guard < 20; guard++) {
          const page = await store.listDeliveries({ endpointId: endpoint.id, limit: 2, cursor });
          pages.push(page.items);
          if (!page.next) break;
          cursor = page.next;
        }
        expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
        expect(ids(pages.flat())).toEqual(ids(deliveries).reverse());
      });
    });

    describe('replays', () => {
      /** Runs a replay to the end, one page per call; returns the record after each call. */
      async function runReplay(
        id: string,
        pageSize: number,
        select: ReplaySelect = selectForReplay,
        now = at(HOUR),
      ): Promise<ReplayRecord[]> {
        const steps: ReplayRecord[] = [];
        for (let guard = 0; guard < 50; guard++) {
          const step = await store.advanceReplay(id, pageSize, select, now);
          expect(step).not.toBeNull();
          steps.push(step!);
          if (step!.status === 'done') return steps;
        }
        throw new Error('replay did not finish');
      }

      it('createReplay then getReplay returns the running replay as given', async () => {
        const endpoint = await addEndpoint();
        const replay = replayRecord(endpoint.id, { types: ['email.bounced', 'email.opened'] });
        await store.createReplay(replay);
        expect(await store.getReplay(replay.id)).toEqual(replay);
        expect(await store.getReplay(newId('replay'))).toBeNull();
      });

      it('advanceReplay pages through the range oldest first, enqueues replay deliveries and ends done', async () => {
        const endpoint = await addEndpoint();
        // Stored out of time order; two share a timestamp.
        const inside = await addEvents([
          { offset: 4 * MINUTE },
          { offset: MINUTE },
          { offset: 3 * MINUTE },
          { offset: 2 * MINUTE },
          { offset: 2 * MINUTE },
        ]);
        await addEvents([{ offset: -MINUTE }, { offset: 10 * MINUTE }, { offset: 11 * MINUTE }]);
        const replay = replayRecord(endpoint.id);
        await store.createReplay(replay);
        const select = vi.fn(selectForReplay);
        const now = at(HOUR + MINUTE);

        const steps = await runReplay(replay.id, 2, select, now);
        expect(steps.map((s) => [s.status, s.scanned, s.enqueued, s.skipped])).toEqual([
          ['running', 2, 2, 0],
          ['running', 4, 4, 0],
          ['done', 5, 5, 0],
        ]);
        expect(await store.getReplay(replay.id)).toEqual({
          ...replay,
          status: 'done',
          scanned: 5,
          enqueued: 5,
          skipped: 0,
          updatedAt: now,
          finishedAt: now,
        });

        const pages = select.mock.calls.map(([events]) => events);
        expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
        const times = pages.flat().map((e) => Date.parse(e.timestamp));
        expect(times).toEqual([...times].sort((x, y) => x - y));
        expect(ids(pages.flat()).sort()).toEqual(ids(inside).sort());
        for (const [, selectedFor, types] of select.mock.calls) {
          expect(selectedFor).toEqual(endpoint);
          expect(types).toEqual([]);
        }

        const deliveries = (await store.listDeliveries({ endpointId: endpoint.id, limit: 100 })).items;
        expect(deliveries.map((d) => d.eventId).sort()).toEqual(ids(inside).sort());
        for (const d of deliveries) {
          expect(d).toMatchObject({ origin: 'replay', status: 'pending', attempts: 0, nextAttemptAt: now });
        }
        const claimed = await claim(store, 'worker-a', now);
        expect(claimed).toHaveLength(5);
        for (const item of claimed) {
          const event = inside.find((e) => e.id === item.delivery.eventId);
          expect(JSON.parse(item.payload)).toStrictEqual(event);
        }
      });

      it('advanceReplay includes events at since and excludes events 1 ms before since or at until', async () => {
        const endpoint = await addEndpoint();
        const since = 5 * MINUTE;
        const until = 10 * MINUTE;
        const [, atSince, beforeUntil] = await addEvents([
          { offset: since - 1 },
          { offset: since },
          { offset: until - 1 },
          { offset: until },
        ]);
        const replay = replayRecord(endpoint.id, { since: at(since), until: at(until) });
        await store.createReplay(replay);
        const steps = await runReplay(replay.id, 10);
        expect(steps.at(-1)).toMatchObject({ status: 'done', scanned: 2, enqueued: 2, skipped: 0 });
        const deliveries = (await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items;
        expect(deliveries.map((d) => d.eventId).sort()).toEqual([atSince!.id, beforeUntil!.id].sort());
      });

      it('advanceReplay enqueues only events the endpoint matches and the replay types allow', async () => {
        const endpoint = await addEndpoint({ eventTypes: ['email.delivered', 'email.opened'] });
        const [, opened1, , opened2] = await addEvents([
          { type: 'email.delivered', offset: MINUTE },
          { type: 'email.opened', offset: 2 * MINUTE },
          { type: 'email.bounced', offset: 3 * MINUTE },
          { type: 'email.opened', offset: 4 * MINUTE },
          { type: 'email.clicked', offset: 5 * MINUTE },
        ]);
        const replay = replayRecord(endpoint.id, { types: ['email.opened', 'email.bounced'] });
        await store.createReplay(replay);
        const steps = await runReplay(replay.id, 100);
        expect(steps.at(-1)).toMatchObject({ status: 'done', scanned: 5, enqueued: 2, skipped: 3 });
        const deliveries = (await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items;
        expect(deliveries.map((d) => d.eventId).sort()).toEqual([opened1!.id, opened2!.id].sort());
      });

      it('advanceReplay skips events that already have a pending delivery to the endpoint', async () => {
        const endpoint = await addEndpoint();
        const other = await addEndpoint();
        const [pending, succeeded, failed, elsewhere] = await addEvents([
          { offset: MINUTE },
          { offset: 2 * MINUTE },
          { offset: 3 * MINUTE },
          { offset: 4 * MINUTE },
        ]);
        const dPending = newDelivery(pending!.id, endpoint.id, { nextAttemptAt: at(10 * HOUR) });
        const dSucceeded = newDelivery(succeeded!.id, endpoint.id);
        const dFailed = newDelivery(failed!.id, endpoint.id);
        const dElsewhere = newDelivery(elsewhere!.id, other.id, { nextAttemptAt: at(10 * HOUR) });
        await store.createDeliveries([dPending, dSucceeded, dFailed, dElsewhere], at(0));
        const claimed = await claim(store, 'worker-a', at(0));
        expect(claimedIds(claimed)).toEqual([dSucceeded.id, dFailed.id].sort());
        await store.recordAttempts(
          claimed.map((item) =>
            result(item, {
              status: item.delivery.id === dSucceeded.id ? 'succeeded' : 'failed',
              startedAt: at(1),
            }),
          ),
          at(2),
        );

        const replay = replayRecord(endpoint.id);
        await store.createReplay(replay);
        const steps = await runReplay(replay.id, 100);
        expect(steps.at(-1)).toMatchObject({ status: 'done', scanned: 4, enqueued: 3, skipped: 1 });
        const replayed = (await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items.filter(
          (d) => d.origin === 'replay',
        );
        expect(replayed.map((d) => d.eventId).sort()).toEqual(
          [succeeded!.id, failed!.id, elsewhere!.id].sort(),
        );

        // A second replay while the first one's deliveries are still pending sends nothing twice.
        const repeat = replayRecord(endpoint.id);
        await store.createReplay(repeat);
        expect((await runReplay(repeat.id, 100)).at(-1)).toMatchObject({
          status: 'done',
          scanned: 4,
          enqueued: 0,
          skipped: 4,
        });
      });

      it('a replay of exactly pageSize events ends done after at most one more call that scans nothing', async () => {
        const endpoint = await addEndpoint();
        await addEvents([
          { offset: MINUTE },
          { offset: 2 * MINUTE },
          { offset: 3 * MINUTE },
          { offset: 4 * MINUTE },
        ]);
        const replay = replayRecord(endpoint.id);
        await store.createReplay(replay);
        const select = vi.fn(selectForReplay);
        const steps = await runReplay(replay.id, 2, select);
        expect(steps.length === 2 || steps.length === 3).toBe(true);
        expect(steps[0]).toMatchObject({ status: 'running', scanned: 2, enqueued: 2 });
        expect(steps.at(-1)).toMatchObject({ status: 'done', scanned: 4, enqueued: 4, skipped: 0 });
        const seen = select.mock.calls.flatMap(([events]) => ids(events));
        expect(new Set(seen).size).toBe(4);
        expect(seen).toHaveLength(4);

        const finished = await store.getReplay(replay.id);
        expect(await store.advanceReplay(replay.id, 2, selectForReplay, at(2 * HOUR))).toEqual(finished);
        expect((await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items).toHaveLength(4);
      });

      it('runningReplays lists running replays only', async () => {
        const endpoint = await addEndpoint();
        await addEvents([{ offset: MINUTE }]);
        const first = replayRecord(endpoint.id, { createdAt: at(HOUR), updatedAt: at(HOUR) });
        const second = replayRecord(endpoint.id, { createdAt: at(HOUR + 1), updatedAt: at(HOUR + 1) });
        const finished = replayRecord(endpoint.id, { createdAt: at(HOUR + 2), updatedAt: at(HOUR + 2) });
        expect(await store.runningReplays()).toEqual([]);
        for (const replay of [first, second, finished]) await store.createReplay(replay);
        await runReplay(finished.id, 10);
        expect([...(await store.runningReplays())].sort()).toEqual([first.id, second.id].sort());
        await runReplay(first.id, 10);
        expect(await store.runningReplays()).toEqual([second.id]);
      });

      it('a replay for a deleted endpoint ends done without enqueuing anything', async () => {
        const endpoint = await addEndpoint();
        await addEvents([{ offset: MINUTE }, { offset: 2 * MINUTE }]);
        const replay = replayRecord(endpoint.id);
        await store.createReplay(replay);
        await store.deleteEndpoint(endpoint.id, at(HOUR));
        const select = vi.fn(selectForReplay);
        const step = await store.advanceReplay(replay.id, 10, select, at(2 * HOUR));
        expect(step).toMatchObject({ status: 'done', enqueued: 0, finishedAt: at(2 * HOUR) });
        expect(select).not.toHaveBeenCalled();
        expect(await store.runningReplays()).toEqual([]);
        expect((await store.listDeliveries({ endpointId: endpoint.id, limit: 10 })).items).toEqual([]);
      });

      it('advanceReplay returns null for an unknown replay', async () => {
        expect(await store.advanceReplay(newId('replay'), 10, selectForReplay, at(0))).toBeNull();
      });
    });
  });
}
