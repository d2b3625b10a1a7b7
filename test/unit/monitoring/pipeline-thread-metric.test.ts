import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/monitoring/metrics.js';
import type { Store } from '../../../src/store/store.js';

/**
 * `mailhook_pipeline_thread_busy_seconds_total` follows the thread's event-loop utilization: it only
 * grows, a reading that goes back a little is not a restart, and a thread restarted after a crash
 * (whose count starts from 0 again) adds its own time.
 */

async function busySeconds(metrics: Metrics): Promise<number> {
  const metric = metrics.registry.getSingleMetric('mailhook_pipeline_thread_busy_seconds_total');
  const values = (await metric?.get())?.values ?? [];
  return values[0]?.value ?? Number.NaN;
}

describe('mailhook_pipeline_thread_busy_seconds_total', () => {
  it('counts the active time of the thread, across a restart and while it is down', async () => {
    // The backlog gauges read the store only when scraped; this test reads one counter alone.
    const metrics = new Metrics({} as Store);
    const readings: Array<{ active: number; thread: number } | null> = [
      { active: 1_500, thread: 1 },
      { active: 4_000, thread: 1 },
      { active: 3_999.998, thread: 1 }, // idle: Node read its idle time before the clock
      { active: 4_500, thread: 1 },
      null, // the thread exited; a new one is starting
      { active: 250, thread: 2 }, // the new thread's own count
      { active: 5_000, thread: 2 }, // past the old thread's count: still all new time
    ];
    metrics.observePipelineThread(() => readings.shift() ?? null);
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) seen.push(await busySeconds(metrics));
    expect(seen).toEqual([1.5, 4, 4, 4.5, 4.5, 4.75, 9.5]);
  });

  it('is registered once however often it is asked for', () => {
    const metrics = new Metrics({} as Store);
    metrics.observePipelineThread(() => null);
    expect(() => metrics.observePipelineThread(() => null)).not.toThrow();
  });
});
