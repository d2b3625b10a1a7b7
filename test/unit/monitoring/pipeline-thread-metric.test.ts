import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/monitoring/metrics.js';
import type { Store } from '../../../src/store/store.js';

/**
 * `mailhook_pipeline_thread_busy_seconds_total` follows the thread's event-loop utilization: it only
 * grows, and a thread restarted after a crash (whose count starts from 0 again) adds its own time.
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
    const readings: Array<{ active: number } | null> = [
      { active: 1_500 },
      { active: 4_000 },
      null, // the thread exited; a new one is starting
      { active: 250 }, // the new thread's own count
      { active: 1_250 },
    ];
    metrics.observePipelineThread(() => readings.shift() ?? null);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(await busySeconds(metrics));
    expect(seen).toEqual([1.5, 4, 4, 4.25, 5.25]);
  });
});
