import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import type {
  InboxInsert,
  InboxRow,
  NewEvent,
  RowOutcome,
  StatsQuery,
  StatsRow,
  Store,
} from '../../src/store/store.js';
import type { MakeStore } from './store-contract.js';

/**
 * The stats half of the Store contract: `eventStats` answers from hourly rollups kept by every path
 * that stores events (pipeline batches, processing in the ingest commit, publishing, reprocessing),
 * and must equal a count over the stored events for any window, grouping and source. Unique messages
 * are the events that were the first stored of their (message id, type).
 */

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = new Date(T0 + 30 * DAY);
const SOURCE = 'src_01JDSTATSCONTRACT000000000';
const OTHER_SOURCE = 'src_01JDSTATSOTHER00000000000';
const EFFECTS = pipelineEffects({ threshold: 3, windowMs: 7 * DAY });
const GROUPS: StatsQuery['groupBy'][] = ['type', 'provider', 'source', 'day', 'recipient_domain'];

interface EventSpec {
  type: string;
  /** Milliseconds after T0. */
  at?: number;
  recipient?: string | null;
  messageId?: string | null;
  sourceId?: string;
  provider?: string;
}

function canonicalEvent(spec: EventSpec): CanonicalEvent {
  const at = T0 + (spec.at ?? 0);
  const recipient = spec.recipient === undefined ? 'ada@example.com' : spec.recipient;
  return {
    id: newId('event'),
    type: spec.type,
    timestamp: new Date(at).toISOString(),
    data: {
      provider: spec.provider ?? 'sendgrid',
      source_id: spec.sourceId ?? SOURCE,
      provider_event_id: null,
      message_id: spec.messageId === undefined ? 'msg-1' : spec.messageId,
      recipient,
      ...(spec.type === 'email.bounced' && {
        bounce: { type: 'soft' as const, code: '4.2.2', reason: '452 4.2.2 mailbox full' },
      }),
      user_agent: null,
      ip: null,
      tags: [],
      metadata: {},
      received_at: new Date(at + SECOND).toISOString(),
      raw: null,
    },
  };
}

function newEvent(spec: EventSpec): NewEvent {
  const event = canonicalEvent(spec);
  return { event, dedupKey: event.id };
}

/** The same provider event posted again: another id, the same source and dedup key. */
function resent(original: NewEvent): NewEvent {
  return { dedupKey: original.dedupKey, event: { ...original.event, id: newId('event') } };
}

function inboxRow(sourceId: string): InboxInsert {
  return {
    id: newId('inbox'),
    sourceId,
    provider: 'sendgrid',
    receivedAt: new Date(T0),
    method: 'POST',
    path: `/ingest/${sourceId}`,
    query: '',
    headers: {},
    body: Buffer.from('[]'),
  };
}

/** What a parser makes of each stored inbox row: its events, with fresh ids on every run. */
function planFrom(eventsOf: Map<string, NewEvent[]>): (rows: InboxRow[]) => RowOutcome[] {
  return (rows) =>
    rows.map((row) => ({
      inboxId: row.id,
      kind: 'processed' as const,
      events: (eventsOf.get(row.id) ?? []).map(resent),
      notes: [],
    }));
}

/**
 * The store's events as the test knows them: each write path records what it sent, in the order the
 * store inserts it, and the first of each (source, dedup key) is the one stored.
 */
class Reference {
  readonly stored: CanonicalEvent[] = [];
  private readonly keys = new Set<string>();

  record(events: NewEvent[]): void {
    for (const { event, dedupKey } of events) {
      const key = JSON.stringify([event.data.source_id, dedupKey]);
      if (this.keys.has(key)) continue;
      this.keys.add(key);
      this.stored.push(event);
    }
  }
}

function domainOf(recipient: string | null): string | null {
  if (recipient === null) return null;
  const domain = recipient.slice(recipient.lastIndexOf('@') + 1);
  if (!recipient.includes('@') || domain === '') return null;
  return domain.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The reference semantics of eventStats, counted over the stored events in the order stored. */
export function expectedStats(stored: CanonicalEvent[], query: StatsQuery): StatsRow[] {
  const seen = new Set<string>();
  const groups = new Map<string, StatsRow>();
  for (const event of stored) {
    const messageId = event.data.message_id;
    const pair = JSON.stringify([messageId, event.type]);
    const first = messageId !== null && !seen.has(pair);
    if (first) seen.add(pair);
    const time = Date.parse(event.timestamp);
    if (time < query.since.getTime() || time >= query.until.getTime()) continue;
    if (query.sourceId !== undefined && event.data.source_id !== query.sourceId) continue;
    const group = {
      type: null,
      provider: event.data.provider,
      source: event.data.source_id,
      day: event.timestamp.slice(0, 10),
      recipient_domain: domainOf(event.data.recipient),
    }[query.groupBy];
    const key = JSON.stringify([group, event.type]);
    const row = groups.get(key) ?? { group, type: event.type, count: 0, messages: 0 };
    row.count++;
    if (first) row.messages++;
    groups.set(key, row);
  }
  return sortStats([...groups.values()]);
}

export function sortStats(rows: StatsRow[]): StatsRow[] {
  const text = (row: StatsRow) => JSON.stringify([row.group, row.type]);
  return [...rows].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
}

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function runStatsContract(name: string, makeStore: MakeStore): void {
  describe(`${name} stats`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    async function ingest(events: NewEvent[]): Promise<void> {
      const row = inboxRow(SOURCE);
      await store.appendInbox([row]);
      const summary = await store.processInbox(10, planFrom(new Map([[row.id, events]])), EFFECTS, NOW);
      expect(summary.rows).toBe(1);
    }

    describe('fixed events', () => {
      const MIDNIGHT = Date.parse('2026-11-27T00:00:00.000Z') - T0;
      let events: CanonicalEvent[];

      beforeEach(async () => {
        const specs: EventSpec[] = [
          { type: 'email.sent', at: -1, messageId: 'm-before' },
          { type: 'email.sent', at: 0, messageId: 'm1' },
          { type: 'email.delivered', at: MINUTE, messageId: 'm1' },
          { type: 'email.opened', at: 2 * MINUTE, messageId: 'm1' },
          { type: 'email.opened', at: MIDNIGHT - 1, messageId: 'm1' },
          { type: 'email.delivered', at: MINUTE, messageId: 'm2', recipient: 'bob@Example.ORG' },
          { type: 'email.opened', at: MIDNIGHT, messageId: 'm2', recipient: 'bob@Example.ORG' },
          { type: 'email.opened', at: MIDNIGHT + 2 * MINUTE, messageId: 'm2', recipient: 'bob@Example.ORG' },
          { type: 'email.opened', at: MIDNIGHT + HOUR, messageId: null },
          {
            type: 'email.delivered',
            at: HOUR,
            messageId: 'm3',
            sourceId: OTHER_SOURCE,
            provider: 'postmark',
            recipient: 'cy@example.net',
          },
          {
            type: 'email.bounced',
            at: MIDNIGHT + 2 * HOUR,
            messageId: 'm4',
            sourceId: OTHER_SOURCE,
            provider: 'postmark',
            recipient: 'cy@example.net',
          },
          { type: 'invoice.paid', at: 3 * HOUR, messageId: null, recipient: null },
          { type: 'email.sent', at: DAY - 1, messageId: 'm5' },
          { type: 'email.sent', at: DAY, messageId: 'm-until' },
        ];
        events = specs.map((spec) => canonicalEvent(spec));
        await ingest(events.map((event) => ({ event, dedupKey: event.id })));
      });

      for (const groupBy of GROUPS) {
        it(`groups by ${groupBy} with counts and first-of-type messages, since inclusive and until exclusive`, async () => {
          const query: StatsQuery = { since: new Date(T0), until: new Date(T0 + DAY), groupBy };
          expect(sortStats(await store.eventStats(query))).toEqual(expectedStats(events, query));
        });
      }

      it('counts a message in the day its first event of the type happened, ignoring events without one', async () => {
        const rows = await store.eventStats({
          since: new Date(T0),
          until: new Date(T0 + DAY),
          groupBy: 'day',
        });
        expect(sortStats(rows.filter((r) => r.type === 'email.opened'))).toEqual([
          { group: '2026-11-26', type: 'email.opened', count: 2, messages: 1 },
          { group: '2026-11-27', type: 'email.opened', count: 3, messages: 1 },
        ]);
        const typeRows = await store.eventStats({
          since: new Date(T0),
          until: new Date(T0 + DAY),
          groupBy: 'type',
        });
        expect(typeRows.find((r) => r.type === 'email.sent')).toEqual({
          group: null,
          type: 'email.sent',
          count: 2,
          messages: 2,
        });
      });

      it('a window that starts after a message was first opened counts its later opens, not the message', async () => {
        const rows = await store.eventStats({
          since: new Date(T0 + 3 * MINUTE),
          until: new Date(T0 + DAY),
          groupBy: 'type',
        });
        expect(rows.find((r) => r.type === 'email.opened')).toEqual({
          group: null,
          type: 'email.opened',
          count: 4,
          messages: 1,
        });
      });

      it('groups by recipient domain in lower case', async () => {
        const rows = await store.eventStats({
          since: new Date(T0),
          until: new Date(T0 + DAY),
          groupBy: 'recipient_domain',
        });
        expect(
          rows
            .filter((r) => r.type === 'email.delivered')
            .map((r) => r.group)
            .sort(),
        ).toEqual(['example.com', 'example.net', 'example.org']);
      });

      it('filters by source', async () => {
        const query: StatsQuery = {
          since: new Date(T0 - DAY),
          until: new Date(T0 + 2 * DAY),
          groupBy: 'provider',
          sourceId: OTHER_SOURCE,
        };
        const rows = await store.eventStats(query);
        expect(sortStats(rows)).toEqual(expectedStats(events, query));
        expect(rows.map((r) => r.group)).toEqual(['postmark', 'postmark']);
      });

      it('an empty window returns no rows', async () => {
        expect(
          await store.eventStats({
            since: new Date(T0 - 2 * DAY),
            until: new Date(T0 - DAY),
            groupBy: 'type',
          }),
        ).toEqual([]);
      });
    });

    it('a message first stored through another source counts there, and a repeat in a later batch counts once', async () => {
      const open = (sourceId: string, at: number) =>
        newEvent({ type: 'email.opened', messageId: 'm-shared', sourceId, at });
      await ingest([open(OTHER_SOURCE, 2 * HOUR)]);
      await ingest([open(SOURCE, HOUR), open(SOURCE, 3 * HOUR)]);
      const rows = await store.eventStats({
        since: new Date(T0),
        until: new Date(T0 + DAY),
        groupBy: 'source',
      });
      expect(sortStats(rows)).toEqual([
        { group: SOURCE, type: 'email.opened', count: 2, messages: 0 },
        { group: OTHER_SOURCE, type: 'email.opened', count: 1, messages: 1 },
      ]);
    });

    for (const seed of [1, 2]) {
      it(`equals a count over the stored events for random events, write paths and windows (seed ${seed})`, async () => {
        const rand = random(seed);
        const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)] as T;
        const reference = new Reference();
        const rowsWritten = new Map<string, NewEvent[]>();
        const sent: NewEvent[] = [];
        const recipients = [
          'ada@example.com',
          'bob@Example.COM',
          'cy@mail.example.net',
          '"d@x"@Example.org',
          'no-at-sign',
          'trailing@',
          'z@MÜNCHEN.de',
          null,
        ];
        const types = [
          'email.sent',
          'email.delivered',
          'email.opened',
          'email.opened',
          'email.clicked',
          'email.bounced',
          'invoice.paid',
        ];
        const next = (): NewEvent => {
          // Duplicates of events sent before: the store keeps the first of each (source, dedup key).
          if (sent.length > 0 && rand() < 0.12) return resent(pick(sent));
          const other = rand() < 0.3;
          const spec: EventSpec = {
            type: pick(types),
            at: Math.floor((rand() * 80 - 30) * HOUR),
            messageId: rand() < 0.15 ? null : `m${Math.floor(rand() * 40)}`,
            recipient: pick(recipients),
            sourceId: other ? OTHER_SOURCE : SOURCE,
            provider: other ? 'postmark' : 'sendgrid',
          };
          const event = newEvent(spec);
          sent.push(event);
          return event;
        };
        const batch = (n: number) => Array.from({ length: n }, next);
        const paths = { pipeline: 0, inline: 0, publish: 0, reprocess: 0 };
        const names = Object.keys(paths) as Array<keyof typeof paths>;

        for (let round = 0; round < 40; round++) {
          // Each path once, in this order, then at random.
          const path = round < names.length ? (names[round] ?? 'pipeline') : pick(names);
          if (path === 'publish') {
            const events = batch(1 + Math.floor(rand() * 6));
            await store.publishEvents(events, EFFECTS, NOW);
            reference.record(events);
          } else if (path === 'reprocess' && rowsWritten.size > 0) {
            // Reprocessing parses a stored row again: the same dedup keys, so nothing new is stored.
            const id = pick([...rowsWritten.keys()]);
            expect(await store.requeueInbox({ ids: [id] })).toBe(1);
            const summary = await store.processInbox(10, planFrom(rowsWritten), EFFECTS, NOW);
            expect(summary).toMatchObject({ rows: 1, inserted: 0 });
          } else {
            const rows = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => inboxRow(SOURCE));
            for (const row of rows) rowsWritten.set(row.id, batch(Math.floor(rand() * 8)));
            const plan = planFrom(rowsWritten);
            if (path === 'inline') {
              const result = await store.appendInbox(rows, { plan, effects: EFFECTS, now: NOW });
              expect(result.processed?.rows).toBe(rows.length);
            } else {
              await store.appendInbox(rows);
              expect((await store.processInbox(10, plan, EFFECTS, NOW)).rows).toBe(rows.length);
            }
            for (const row of rows) reference.record(rowsWritten.get(row.id) ?? []);
          }
          paths[path]++;
        }
        expect(Math.min(...Object.values(paths))).toBeGreaterThan(0);
        expect(await store.countEvents()).toBe(reference.stored.length);

        const windows: Array<[number, number]> = [
          [-2 * DAY, 3 * DAY],
          [-10 * HOUR, 20 * HOUR],
          [-10 * HOUR, 20 * HOUR + 1],
          [-10 * HOUR - 1, 20 * HOUR],
          [5 * MINUTE, 6 * MINUTE],
          [HOUR - 1, HOUR + 1],
        ];
        for (let i = 0; i < 30; i++) {
          const since = Math.floor((rand() * 90 - 35) * HOUR);
          windows.push([
            since,
            since + 1 + Math.floor(rand() * pick([30 * SECOND, 59 * MINUTE, 3 * HOUR, 2 * DAY])),
          ]);
        }
        for (const [since, until] of windows) {
          for (const groupBy of GROUPS) {
            for (const sourceId of [undefined, SOURCE, OTHER_SOURCE, 'src_none']) {
              const query: StatsQuery = {
                since: new Date(T0 + since),
                until: new Date(T0 + until),
                groupBy,
                ...(sourceId && { sourceId }),
              };
              expect(sortStats(await store.eventStats(query)), JSON.stringify(query)).toEqual(
                expectedStats(reference.stored, query),
              );
            }
          }
        }
      });
    }
  });
}
