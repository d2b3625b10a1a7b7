import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeFigures, runCrashScenario } from '../../helpers/crash-scenario.js';
import {
  createTestDatabase,
  randomInt,
  removeNodeDirs,
  startPgNode,
  type TestDatabase,
} from '../../helpers/pg-database.js';
import { postgresAvailable } from '../../helpers/postgres.js';
import { killAll, removeDir, startServer, tempDataDir } from '../../helpers/process.js';
import { postgresProbe, sqliteProbe } from '../../helpers/store-probe.js';

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

const available = await postgresAvailable();

/**
 * The same on PostgreSQL (since 2026-12-07 its pipeline hands fresh deliveries over too). A killed
 * node's leases expire after the delivery timeout + 30 s, when the restarted node takes them: the
 * drain waits that long.
 */
describe.runIf(available)(
  'a kill between the commit that leased fresh deliveries and their hand-off (PostgreSQL)',
  () => {
    let db: TestDatabase;

    beforeAll(async () => {
      db = await createTestDatabase('mh_rel_hand_off');
    });

    afterAll(async () => {
      await killAll();
      await db?.drop();
      removeNodeDirs();
    });

    it('loses no delivery, and delivers twice only what was leased at a kill', async () => {
      const probe = postgresProbe(db.url);
      const env = { ...ENV, MAILHOOK_DELIVERY_TIMEOUT: '1s' };
      try {
        const figures = await runCrashScenario({
          probe,
          start: () => startPgNode({ databaseUrl: db.url, env }),
          startSelfKilling: () =>
            startPgNode({
              databaseUrl: db.url,
              env: { ...env, MAILHOOK_FAULT_INJECTION: `kill-before-hand-off:${randomInt(5, 40)}` },
            }),
          cycles: 2,
          backlogRows: 300,
          drainTimeoutMs: 75_000,
          label: 'crash hand-off postgres',
        });
        console.log(describeFigures('kill before the hand-off (PostgreSQL, pipeline)', figures));
        const leasedAtKills = figures.cycles.reduce((n, c) => n + c.atKill.leasedDeliveries, 0);
        for (const cycle of figures.cycles) {
          expect(cycle.atKill.leasedDeliveries, 'deliveries leased at the kill').toBeGreaterThan(0);
        }
        expect(figures.redelivered, 'events delivered twice').toBeLessThanOrEqual(leasedAtKills);
      } finally {
        await probe.close();
      }
    }, 240_000);
  },
);

if (!available) {
  describe('a kill between the commit that leased fresh deliveries and their hand-off (PostgreSQL)', () => {
    it.skip('needs PostgreSQL at MAILHOOK_TEST_DATABASE_URL (never skipped in CI)', () => {});
  });
}
