import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crashLoad, waitUntilNothingPending } from '../../helpers/crash-load.js';
import { allEvents, checkStored, createTestDatabase, type TestDatabase } from '../../helpers/pg-database.js';
import { postgresAvailable } from '../../helpers/postgres.js';
import { api, killAll, removeDir, startServer, tempDataDir, waitFor } from '../../helpers/process.js';
import { type Receiver, startReceiver } from '../../helpers/receiver.js';
import { sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * SIGTERM is how every orchestrator stops a process (a deploy, a scale-down): it must drain, not
 * crash. Under ingest load and with deliveries in flight to a slow receiver, the process exits 0
 * within its grace period, every request it answered 200 is stored once, requests arriving while it
 * closes are refused (503 or a closed connection) rather than lost, and every event is delivered after
 * the restart.
 */

const ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,100ms,200ms,500ms,1s,1s,1s,1s',
  MAILHOOK_LOG_LEVEL: 'warn',
};

const dirs: string[] = [];
let receiver: Receiver | undefined;

afterEach(async () => {
  await killAll();
  await receiver?.close();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

const stores: Array<'SQLite' | 'PostgreSQL'> = ['SQLite'];
if (await postgresAvailable()) stores.push('PostgreSQL');

describe.each(stores)('SIGTERM under load on %s', (store) => {
  let db: TestDatabase | undefined;
  let env: Record<string, string> = ENV;

  beforeAll(async () => {
    if (store === 'PostgreSQL') {
      db = await createTestDatabase();
      env = { ...ENV, DATABASE_URL: db.url };
    }
  });

  afterAll(async () => {
    await killAll();
    await db?.drop();
  });

  it('exits 0, keeps every acknowledged event exactly once, refuses rather than loses, and delivers everything after the restart', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const signer = sendGridSigner();
    // Deliveries take 300 ms each, so some are in flight when the signal comes.
    receiver = await startReceiver({ respond: () => ({ status: 200, delayMs: 300 }) });

    let server = await startServer({ dataDir, env });
    const source = await api<{ id: string }>(server.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'shutdown test', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    const endpoint = await api<{ id: string }>(server.url, '/v1/endpoints', {
      method: 'POST',
      body: { url: `${receiver.url}/hook`, max_concurrency: 50 },
    });
    expect([source.status, endpoint.status]).toEqual([201, 201]);

    const load = crashLoad(`${server.url}/ingest/${source.body.id}`, signer);
    await load.firstAcknowledged();
    await waitFor('deliveries in flight', async () =>
      receiver && receiver.inflight() > 0 ? true : undefined,
    );
    const stoppingAt = Date.now();
    const exit = await server.stop(20_000);
    const stopMs = Date.now() - stoppingAt;
    const result = await load.stop();

    expect(exit, 'a clean exit, not the SIGKILL after 20 s').toEqual({ code: 0, signal: null });
    expect(result.acknowledgedRequests).toBeGreaterThan(0);
    // While closing, the server answers 503 on connections it still holds; nothing else.
    const refusals = Object.fromEntries(result.unexpected);
    expect(Object.keys(refusals).filter((status) => status !== '503')).toEqual([]);

    server = await startServer({ dataDir, env });
    await waitUntilNothingPending(server);
    // This source's events only: mailhook's own system.* events carry no provider event id.
    const events = await allEvents(server.url, source.body.id);
    const { missing, duplicated, unknown } = checkStored(
      events,
      new Set(result.acknowledgedIds),
      new Set(result.sentIds),
    );
    expect(missing, 'acknowledged but not stored').toEqual([]);
    expect(duplicated, 'stored more than once').toEqual([]);
    expect(unknown, 'stored but never sent').toEqual([]);

    // Every stored event reaches the receiver, the ones in flight at the signal included.
    await waitFor(
      'every stored event delivered',
      async () => (events.every((e) => (receiver?.byId(e.id).length ?? 0) > 0) ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    console.log(
      `graceful shutdown (${store}): stopped in ${stopMs} ms; ${result.acknowledgedRequests} requests acknowledged ` +
        `(${result.acknowledgedIds.length} events), refusals while closing ${JSON.stringify(refusals)}, ` +
        `${result.failedRequests} failed at the network level; after restart ${events.length} events stored, ` +
        `all delivered (${receiver.requests.length} requests at the receiver for ${receiver.ids().size} ids)`,
    );
  });
});
