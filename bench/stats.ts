import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalEvent } from '../src/events.js';
import { newId } from '../src/ids.js';
import { SqliteStore } from '../src/store/index.js';
import type { StatsGroupBy } from '../src/store/store.js';

/**
 * Stats over a large generated event set: time of GET /v1/stats's store query for each grouping,
 * against a baseline of a bare COUNT(*) over the same range on the same store.
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
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

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
    return {
      events: total,
      insertSeconds: Number(insertSeconds.toFixed(1)),
      baselineCountMs: Math.round(count),
      queries,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
