import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalEvent } from '../src/events.js';
import { newId } from '../src/ids.js';
import { SqliteStore } from '../src/store/index.js';
import type { EventQuery, StatsGroupBy } from '../src/store/store.js';

/**
 * Queries over a large generated event set: the store calls behind GET /v1/stats (each grouping,
 * against a bare COUNT(*) of the same table) and GET /v1/events filtered by recipient, type and
 * message id (a page of 50, as the API's default, against an unfiltered page).
 */
const TYPES = [
  'email.sent',
  'email.delivered',
  'email.delivered',
  'email.opened',
  'email.clicked',
  'email.bounced',
];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example'];
const DAY = 86_400_000;

export interface StatsBench {
  events: number;
  insertSeconds: number;
  /** A bare COUNT(*) of the table: the floor any aggregate pays. */
  baselineCountMs: number;
  queries: Record<StatsGroupBy, { ms: number; ratioToCount: number }>;
  /** listEvents, first page of 50 newest first; the baseline is the same page without a filter. */
  eventList: {
    baselineMs: number;
    filters: Record<string, { ms: number; rows: number; ratioToUnfiltered: number }>;
  };
}

const PAGE = 50;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round2 = (n: number) => Number(n.toFixed(2));

export async function statsBench(total: number): Promise<StatsBench> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-stats-'));
  const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  try {
    await store.migrate();
    const start = Date.now() - 30 * DAY;
    const insertStarted = performance.now();
    const batch = 10_000;
    for (let done = 0; done < total; done += batch) {
      const events = Array.from({ length: Math.min(batch, total - done) }, (_, i) => {
        const n = done + i;
        const event: CanonicalEvent = {
          id: newId('event'),
          type: TYPES[n % TYPES.length] as string,
          timestamp: new Date(start + Math.floor((n / total) * 30 * DAY)).toISOString(),
          data: {
            provider: n % 3 === 0 ? 'sendgrid' : 'ses',
            source_id: n % 3 === 0 ? 'src_a' : 'src_b',
            provider_event_id: null,
            message_id: `m${Math.floor(n / 4)}`,
            recipient: `u${n % 50_000}@${DOMAINS[n % DOMAINS.length]}`,
            user_agent: null,
            ip: null,
            tags: [],
            metadata: {},
            received_at: new Date().toISOString(),
            raw: null,
          },
        };
        return { event, dedupKey: event.id };
      });
      await store.publishEvents(events, {}, new Date());
    }
    const insertSeconds = (performance.now() - insertStarted) / 1000;
    const since = new Date(start);
    const until = new Date(start + 30 * DAY + DAY);
    const time = async (fn: () => Promise<unknown>) => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await fn();
        runs.push(performance.now() - t);
      }
      return median(runs);
    };
    const queries = {} as StatsBench['queries'];
    for (const groupBy of ['type', 'provider', 'source', 'day', 'recipient_domain'] as StatsGroupBy[]) {
      const ms = await time(() => store.eventStats({ since, until, groupBy }));
      queries[groupBy] = { ms: Math.round(ms), ratioToCount: 0 };
    }
    const count = await time(() => store.countEvents());
    for (const q of Object.values(queries)) q.ratioToCount = Number((q.ms / Math.max(1, count)).toFixed(2));

    // Values that exist in the generated set: recipients repeat every 50,000 events, message ids
    // cover 4 events each, bounces are 1 in 6.
    const someone = `u${12_345 % 50_000}@${DOMAINS[12_345 % DOMAINS.length]}`;
    const filters: Record<string, Omit<EventQuery, 'limit'>> = {
      recipient: { recipient: someone },
      type: { type: 'email.bounced' },
      message_id: { messageId: `m${Math.floor(total / 8)}` },
      'type+recipient': { type: TYPES[12_345 % TYPES.length] as string, recipient: someone },
      'type+last 24 h': { type: 'email.clicked', since: new Date(start + 29 * DAY) },
    };
    const baselineMs = await time(() => store.listEvents({ limit: PAGE }));
    const eventList: StatsBench['eventList'] = { baselineMs: round2(baselineMs), filters: {} };
    for (const [name, filter] of Object.entries(filters)) {
      let rows = 0;
      const ms = await time(async () => {
        rows = (await store.listEvents({ limit: PAGE, ...filter })).items.length;
      });
      eventList.filters[name] = {
        ms: round2(ms),
        rows,
        ratioToUnfiltered: round2(ms / Math.max(0.01, baselineMs)),
      };
    }
    return {
      events: total,
      insertSeconds: Number(insertSeconds.toFixed(1)),
      baselineCountMs: Math.round(count),
      queries,
      eventList,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
