import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crashLoad } from '../helpers/crash-load.js';
import {
  allEvents,
  checkStored,
  createSendGridSource,
  createTestDatabase,
  inboxDrained,
  type PgNode,
  randomInt,
  removeNodeDirs,
  sleep,
  startPgNode,
  type TestDatabase,
} from '../helpers/pg-database.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { api, killAll, waitFor } from '../helpers/process.js';
import { sendGridSigner } from '../helpers/sendgrid.js';

/**
 * The crash property of test/e2e/crash.test.ts on PostgreSQL: a request answered 200 has been
 * committed, so it survives a SIGKILL of the node and yields each of its events exactly once.
 */

const CYCLES = 3;

const available = await postgresAvailable();

describe.runIf(available)('crash safety of the ingest path on PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await killAll();
  });

  afterAll(async () => {
    await killAll();
    await db?.drop();
    removeNodeDirs();
  });

  it('a request answered 200 is committed to PostgreSQL: it survives SIGKILL and yields each of its events exactly once (inline processing on)', async () => {
    const signer = sendGridSigner();
    let node: PgNode = await startPgNode({
      databaseUrl: db.url,
      env: { MAILHOOK_INLINE_PROCESSING: 'true' },
    });
    const sourceId = await createSendGridSource(node.url, signer, 'postgres crash test');

    const acknowledged = new Set<string>();
    const sent = new Set<string>();
    let totalAcknowledgedRequests = 0;

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const ingestUrl = `${node.url}/ingest/${sourceId}`;
      const loadMs = randomInt(300, 1500);
      const load = crashLoad(ingestUrl, signer);
      await load.firstAcknowledged();
      await sleep(loadMs);
      const exit = await node.crash();
      const result = await load.stop();
      expect(exit.signal).toBe('SIGKILL');

      for (const id of result.acknowledgedIds) acknowledged.add(id);
      for (const id of result.sentIds) sent.add(id);
      totalAcknowledgedRequests += result.acknowledgedRequests;
      console.log(
        `postgres crash cycle ${cycle}: SIGKILL ${loadMs} ms after the first acknowledgement; ${result.acknowledgedRequests} requests ` +
          `acknowledged (${result.acknowledgedIds.length} events), ${result.failedRequests} failed at the kill`,
      );
      expect(Object.fromEntries(result.unexpected), 'answers other than 200 before the kill').toEqual({});
      expect(result.acknowledgedRequests, 'the load loop got no request through').toBeGreaterThan(0);

      const restartedAt = Date.now();
      node = await startPgNode({ databaseUrl: db.url, env: { MAILHOOK_INLINE_PROCESSING: 'true' } });
      const restartMs = Date.now() - restartedAt;
      await waitFor(
        'the pipeline to process every pending inbox row',
        async () => ((await inboxDrained(node.url)) ? true : undefined),
        { timeoutMs: 20_000, intervalMs: 100 },
      );

      const events = await allEvents(node.url);
      for (const event of events) expect(event.data.source_id).toBe(sourceId);
      const { missing, duplicated, unknown } = checkStored(events, acknowledged, sent);
      const [row] = await db.sql<{ rows: number; keys: number }[]>`
        SELECT COUNT(*)::int AS rows, COUNT(DISTINCT (source_id, dedup_key))::int AS keys FROM events`;
      console.log(
        `postgres crash cycle ${cycle}: restarted in ${restartMs} ms; ${events.length} events stored ` +
          `(${row?.rows} rows, ${row?.keys} distinct keys in the table), ${acknowledged.size} acknowledged so far, ` +
          `${events.length - acknowledged.size} stored without an acknowledgement (in flight at a kill)`,
      );

      expect(missing, 'acknowledged events missing after restart').toEqual([]);
      expect(duplicated, 'events stored more than once').toEqual([]);
      expect(unknown, 'events nobody sent').toEqual([]);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(row?.rows).toBe(events.length);
      expect(row?.keys).toBe(events.length);

      const quarantined = await api<{ data: unknown[] }>(node.url, '/v1/inbox?status=quarantined&limit=1');
      expect(quarantined.body.data).toEqual([]);
    }

    console.log(
      `postgres crash: ${CYCLES} cycles, ${totalAcknowledgedRequests} requests acknowledged, ` +
        `${acknowledged.size} events acknowledged, ${sent.size} events sent, all acknowledged events stored exactly once`,
    );
    await node.stop();
  }, 60_000);
});

if (!available) {
  describe('crash safety of the ingest path on PostgreSQL', () => {
    it.skip('needs PostgreSQL at MAILHOOK_TEST_DATABASE_URL (never skipped in CI)', () => {});
  });
}
