import type { StatsRow } from '../store/store.js';

/**
 * The rates senders watch, from per-type counts. Engagement and complaint rates are per delivered
 * message, bounce and delivery rates per sent message; `null` when the denominator is zero. Messages
 * are unique messages where the provider gives message ids: those whose first event of the type (the
 * first stored) falls in the group, so they add up across hours and days.
 */
export interface GroupStats {
  group: string | null;
  counts: Record<string, number>;
  unique_messages: Record<string, number>;
  rates: {
    delivery: number | null;
    bounce: number | null;
    complaint: number | null;
    open: number | null;
    click: number | null;
    unsubscribe: number | null;
  };
}

function ratio(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;
}

export function summarizeStats(rows: StatsRow[]): GroupStats[] {
  const groups = new Map<string | null, GroupStats>();
  for (const row of rows) {
    let g = groups.get(row.group);
    if (!g) {
      g = { group: row.group, counts: {}, unique_messages: {}, rates: {} as GroupStats['rates'] };
      groups.set(row.group, g);
    }
    g.counts[row.type] = (g.counts[row.type] ?? 0) + row.count;
    g.unique_messages[row.type] = (g.unique_messages[row.type] ?? 0) + row.messages;
  }
  for (const g of groups.values()) {
    const count = (type: string) => g.counts[type] ?? 0;
    // Distinct messages when the provider gives message ids; otherwise the raw counts.
    const unique = (type: string) => g.unique_messages[type] || count(type);
    const delivered = unique('email.delivered');
    const sent = Math.max(
      unique('email.sent'),
      delivered + unique('email.bounced') + unique('email.dropped'),
    );
    g.rates = {
      delivery: ratio(delivered, sent),
      bounce: ratio(unique('email.bounced'), sent),
      complaint: ratio(unique('email.complained'), delivered),
      open: ratio(unique('email.opened'), delivered),
      click: ratio(unique('email.clicked'), delivered),
      unsubscribe: ratio(unique('email.unsubscribed'), delivered),
    };
  }
  return [...groups.values()];
}
