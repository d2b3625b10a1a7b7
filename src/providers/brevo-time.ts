/**
 * Brevo puts up to four clocks on a transactional event, and they do not agree:
 * - `ts_epoch`: documented as "milliseconds UTC"; real posts are milliseconds (1520363423000,
 *   1724322809710), but several documentation samples show a seconds-size value (1604933654). It is
 *   the only field observed to be consistently UTC, so it wins; its unit is decided by magnitude.
 * - `ts_event`: documented as "seconds GMT of when the webhook event occurred". Absent from no
 *   documented sample, so it is the fallback (a live capture showed it shifted by the account's
 *   timezone, which is why it does not win when `ts_epoch` is there).
 * - `ts`: "timestamp in seconds of when event occurred"; third choice.
 * - `date`: `YYYY-MM-DD HH:MM:SS` in CET/CEST (Europe/Paris) per the docs; last resort.
 */

/** Below 1e11 a Unix time can only be seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const MILLISECONDS_FROM = 1e11;

function numeric(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)) return Number(value);
  return null;
}

function toMs(value: number): number {
  return Math.round(value >= MILLISECONDS_FROM ? value : value * 1000);
}

const PARIS = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Paris',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** Offset of Europe/Paris from UTC at instant `ms`, in milliseconds (+1 h in winter, +2 h in summer). */
function parisOffsetMs(ms: number): number {
  const parts: Record<string, number> = {};
  for (const part of PARIS.formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** A Paris wall-clock time to UTC milliseconds; null when the text is not `YYYY-MM-DD HH:MM:SS`. */
export function parisLocalToUtcMs(text: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const wall = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
  if (!Number.isFinite(wall)) return null;
  // Two passes settle the offset on either side of a DST change.
  const first = wall - parisOffsetMs(wall);
  return wall - parisOffsetMs(first);
}

export interface BrevoTime {
  ms: number;
  field: 'ts_epoch' | 'ts_event' | 'ts' | 'date';
}

/** The event's time by the precedence above, or null when it carries none of the four. */
export function brevoTimeOf(event: Record<string, unknown>): BrevoTime | null {
  const epoch = numeric(event.ts_epoch);
  if (epoch !== null) return { ms: toMs(epoch), field: 'ts_epoch' };
  const tsEvent = numeric(event.ts_event);
  if (tsEvent !== null) return { ms: toMs(tsEvent), field: 'ts_event' };
  const ts = numeric(event.ts);
  if (ts !== null) return { ms: toMs(ts), field: 'ts' };
  if (typeof event.date === 'string') {
    const ms = parisLocalToUtcMs(event.date);
    if (ms !== null) return { ms, field: 'date' };
  }
  return null;
}
