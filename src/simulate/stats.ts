import { nearestRank } from '../delivery/health.js';
import type { SlotKind } from './traffic.js';

/** What came back, counted against what each kind of request should get. */
export interface Outcome {
  kind: SlotKind;
  /** HTTP status, or null when no answer came (connection refused, timeout). */
  status: number | null;
  error?: string;
  /** Why the server said no, from its error body (`MH_ERR_…: message`), for answers not expected. */
  reason?: string;
  latencyMs: number;
}

export interface Summary {
  provider: string;
  url: string;
  seed: number;
  /** Distinct events in valid requests: what the source should store. */
  events: number;
  requests: { valid: number; duplicates: number; bad_signatures: number; total: number };
  sent: number;
  /** 2xx answers. */
  acknowledged: number;
  /** 401 answers to the deliberately bad requests (expected). */
  rejected: number;
  /** Anything else: a non-2xx to a valid request or duplicate, a non-401 to a bad one, no answer. */
  unexpected: { count: number; by_status: Record<string, number>; examples: string[] };
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  duration_ms: number;
  requests_per_second: number;
  /** Stopped early (Ctrl-C): fewer requests were sent than planned. */
  interrupted: boolean;
}

export function isExpected(outcome: Outcome): boolean {
  if (outcome.status === null) return false;
  if (outcome.kind === 'bad') return outcome.status === 401;
  return outcome.status >= 200 && outcome.status < 300;
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  return nearestRank(sorted, p) ?? 0;
}

/** Enough of an error body for its code and message; a proxy's page beyond that is not read into memory. */
export const REASON_BODY_BYTES = 2048;

/**
 * The reason an answer gives: `MH_ERR_…: message` from mailhook's `{"code", "message"}` body, else the
 * start of the text (a proxy's page), on one line; undefined when the body says nothing.
 */
export function reasonOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    const parts = [parsed.code, parsed.message].filter((p): p is string => typeof p === 'string' && p !== '');
    if (parts.length > 0) return parts.join(': ');
  } catch {
    // not JSON: the text itself
  }
  const text = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return text === '' ? undefined : text;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export class Tally {
  readonly outcomes: Outcome[] = [];
  acknowledged = 0;
  rejected = 0;
  unexpected = 0;
  private readonly byStatus: Record<string, number> = {};
  private readonly examples: string[] = [];

  add(outcome: Outcome): void {
    this.outcomes.push(outcome);
    if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) this.acknowledged++;
    if (outcome.kind === 'bad' && outcome.status === 401) this.rejected++;
    if (isExpected(outcome)) return;
    this.unexpected++;
    const key = outcome.status === null ? 'error' : String(outcome.status);
    this.byStatus[key] = (this.byStatus[key] ?? 0) + 1;
    const answer = `${outcome.status ?? outcome.error ?? 'no answer'}${outcome.reason ? ` (${outcome.reason})` : ''}`;
    const example = `${outcome.kind} request → ${answer}`;
    if (this.examples.length < 5 && !this.examples.includes(example)) this.examples.push(example);
  }

  summary(
    base: Omit<
      Summary,
      'sent' | 'acknowledged' | 'rejected' | 'unexpected' | 'latency_ms' | 'requests_per_second'
    >,
  ): Summary {
    const latencies = this.outcomes.map((o) => o.latencyMs).sort((a, b) => a - b);
    return {
      ...base,
      sent: this.outcomes.length,
      acknowledged: this.acknowledged,
      rejected: this.rejected,
      unexpected: { count: this.unexpected, by_status: { ...this.byStatus }, examples: [...this.examples] },
      latency_ms: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? 0),
      },
      requests_per_second:
        base.duration_ms > 0 ? Math.round((this.outcomes.length / base.duration_ms) * 1000 * 10) / 10 : 0,
    };
  }
}
