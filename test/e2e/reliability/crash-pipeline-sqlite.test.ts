import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeFigures, runCrashScenario } from '../../helpers/crash-scenario.js';
import { killAll, removeDir, startServer, tempDataDir } from '../../helpers/process.js';
import { sqliteProbe } from '../../helpers/store-probe.js';

/** SIGKILL while the pipeline and the delivery worker chew through a large backlog, on SQLite. */

const ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,100ms,200ms,500ms,1s,1s,1s,1s',
  MAILHOOK_DELIVERY_TIMEOUT: '2s',
  MAILHOOK_LOG_LEVEL: 'warn',
};

const dirs: string[] = [];

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

describe('crash during pipeline and delivery on SQLite', () => {
  it('loses no inbox row, processes none twice, stores no event twice and finishes every delivery, each backed by a 2xx, across three SIGKILLs', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const probe = sqliteProbe(dataDir);
    const figures = await runCrashScenario({
      probe,
      start: () => startServer({ dataDir, env: ENV }),
      cycles: 3,
      backlogRows: 4000,
      drainTimeoutMs: 45_000,
      label: 'crash sqlite',
    });
    console.log(describeFigures('crash during pipeline and delivery (SQLite)', figures));
    // The kills must have hit real work, or the test proved nothing.
    const first = figures.cycles[0];
    expect(first?.atKill.pendingRows, 'inbox rows pending at the first kill').toBeGreaterThan(0);
    expect(
      figures.cycles.some((c) => c.atKill.pendingDeliveries > 0),
      'a kill with deliveries pending',
    ).toBe(true);
    // At-least-once costs only what was in flight: a delivery sent twice was leased at a kill.
    const leasedAtKills = figures.cycles.reduce((n, c) => n + c.atKill.leasedDeliveries, 0);
    expect(figures.redelivered, 'events delivered twice').toBeLessThanOrEqual(leasedAtKills);
  }, 90_000);
});
