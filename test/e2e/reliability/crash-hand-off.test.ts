import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeFigures, runCrashScenario } from '../../helpers/crash-scenario.js';
import { randomInt } from '../../helpers/pg-database.js';
import { killAll, removeDir, startServer, tempDataDir } from '../../helpers/process.js';
import { sqliteProbe } from '../../helpers/store-probe.js';

/**
 * Fresh deliveries are created already leased to the node's delivery worker and handed to it in
 * memory, without a claim (src/store/hand-off.ts). The process is killed (by fault injection) at
 * the worst moment for that design: right after the transaction that leased them committed, before
 * the worker has started any of them. Nothing may be lost, and only deliveries that were in flight
 * (leased) at a kill may reach the receiver twice.
 */

const ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,100ms,200ms,500ms,1s,1s,1s,1s',
  MAILHOOK_DELIVERY_TIMEOUT: '2s',
  MAILHOOK_LOG_LEVEL: 'error',
};

const dirs: string[] = [];

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

describe.each([
  { mode: 'pipeline', inline: 'false' },
  { mode: 'inline processing', inline: 'true' },
])('a kill between the commit that leased fresh deliveries and their hand-off ($mode)', ({ inline }) => {
  it('loses no delivery, and delivers twice only what was leased at a kill', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const probe = sqliteProbe(dataDir);
    const env = { ...ENV, MAILHOOK_INLINE_PROCESSING: inline };
    const figures = await runCrashScenario({
      probe,
      start: () => startServer({ dataDir, env }),
      startSelfKilling: () =>
        startServer({
          dataDir,
          env: { ...env, MAILHOOK_FAULT_INJECTION: `kill-before-hand-off:${randomInt(5, 40)}` },
        }),
      cycles: 3,
      backlogRows: 300,
      drainTimeoutMs: 45_000,
      label: `crash hand-off ${inline}`,
    });
    console.log(
      describeFigures(
        `kill before the hand-off (SQLite, ${inline === 'true' ? 'inline' : 'pipeline'})`,
        figures,
      ),
    );
    const leasedAtKills = figures.cycles.reduce((n, c) => n + c.atKill.leasedDeliveries, 0);
    // The fault fires in the hand-off, after a commit that leased deliveries: they are on disk, leased.
    for (const cycle of figures.cycles) {
      expect(cycle.atKill.leasedDeliveries, 'deliveries leased at the kill').toBeGreaterThan(0);
    }
    expect(figures.redelivered, 'events delivered twice').toBeLessThanOrEqual(leasedAtKills);
  }, 240_000);
});
