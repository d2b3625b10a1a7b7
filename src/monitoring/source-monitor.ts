import type { Logger } from 'pino';
import type { PublishedEvent, Store } from '../store/store.js';
import { sourceEvent } from './system-events.js';

/**
 * Silent-source detection. Each source learns its usual gap between requests (an exponentially
 * weighted mean); once it has seen a few, a source quiet for `factor` times that gap — and at least
 * `minSilenceMs` — raises `system.source.silent` once, and its next request raises
 * `system.source.recovered`. This is how a user learns that a provider stopped posting (a rotated
 * key, a deleted webhook, broken DNS) before customers notice.
 */
export interface SilencePolicy {
  minSilenceMs: number;
  /** Silent after this many usual gaps. */
  factor: number;
  /** Requests seen before the usual gap is trusted. */
  learnAfter: number;
}

export const DEFAULT_SILENCE_POLICY: SilencePolicy = { minSilenceMs: 15 * 60_000, factor: 10, learnAfter: 5 };

interface SourceActivity {
  lastAt: number;
  meanGapMs: number | null;
  seen: number;
  silent: boolean;
}

const SMOOTHING = 0.2;

/** Pure: the activity after a request at `at`. */
export function recordRequest(activity: SourceActivity | undefined, at: number): SourceActivity {
  if (!activity) return { lastAt: at, meanGapMs: null, seen: 1, silent: false };
  const gap = Math.max(0, at - activity.lastAt);
  const meanGapMs =
    activity.meanGapMs === null ? gap : activity.meanGapMs + SMOOTHING * (gap - activity.meanGapMs);
  return { lastAt: Math.max(at, activity.lastAt), meanGapMs, seen: activity.seen + 1, silent: false };
}

/** Pure: how long this source may be quiet before it counts as silent (null while still learning). */
export function silenceThreshold(activity: SourceActivity, policy: SilencePolicy): number | null {
  if (activity.seen < policy.learnAfter || activity.meanGapMs === null) return null;
  return Math.max(policy.minSilenceMs, policy.factor * activity.meanGapMs);
}

export class SourceMonitor {
  private readonly activity = new Map<string, SourceActivity>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly publish: (events: PublishedEvent[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly policy: SilencePolicy = DEFAULT_SILENCE_POLICY,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Called for every stored ingest request. */
  record(sourceId: string, at: Date): void {
    const before = this.activity.get(sourceId);
    this.activity.set(sourceId, recordRequest(before, at.getTime()));
    if (before?.silent) void this.raise('recovered', sourceId, before, at);
  }

  /** Raises `silent` for every source quiet past its threshold (once per silence). */
  async check(): Promise<void> {
    const now = this.now();
    for (const [sourceId, activity] of this.activity) {
      const threshold = silenceThreshold(activity, this.policy);
      if (activity.silent || threshold === null || now.getTime() - activity.lastAt < threshold) continue;
      activity.silent = true;
      await this.raise('silent', sourceId, activity, now);
    }
  }

  start(intervalMs = 30_000): void {
    this.timer ??= setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async raise(
    kind: 'silent' | 'recovered',
    sourceId: string,
    activity: SourceActivity,
    at: Date,
  ): Promise<void> {
    try {
      const source = await this.store.getSource(sourceId);
      if (!source) return;
      const details = { lastRequestAt: new Date(activity.lastAt), expectedGapMs: activity.meanGapMs ?? 0 };
      await this.publish([sourceEvent(kind, source, details, at)]);
      await this.store.updateSourceState(
        sourceId,
        {
          monitor: {
            silent: kind === 'silent',
            since: at.toISOString(),
            last_request_at: details.lastRequestAt.toISOString(),
          },
        },
        at,
      );
      this.logger.warn(
        { sourceId, event: `system.source.${kind}` },
        `source ${kind === 'silent' ? 'went silent' : 'recovered'}`,
      );
    } catch (err) {
      this.logger.error({ err, sourceId }, 'could not raise a source event');
    }
  }
}
