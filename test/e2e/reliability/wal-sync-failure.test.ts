import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { allEvents, createSendGridSource } from '../../helpers/pg-database.js';
import {
  api,
  killAll,
  removeDir,
  startServer,
  tempDataDir,
  waitFor,
  withTimeout,
} from '../../helpers/process.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';
import { type StuckReceiver, startStuckReceiver } from '../../helpers/stuck-receiver.js';

/**
 * SQLite, when the sync of the WAL after an ingest commit fails (fault injection: every such
 * fdatasync answers EIO). That sync runs off the writer thread while deliveries are in flight, so an
 * endpoint that never answers keeps an attempt in flight here. The request whose commit could not
 * be synced is never answered 200, the process stops with EX_IOERR (74) instead of acknowledging
 * anything more, and a restart serves what was acknowledged before.
 */

const ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_DELIVERY_TIMEOUT: '30s',
  MAILHOOK_INLINE_PROCESSING: 'true',
  MAILHOOK_LOG_LEVEL: 'warn',
};

const dirs: string[] = [];
let receiver: StuckReceiver | null = null;

afterEach(async () => {
  await killAll();
  await receiver?.close();
  receiver = null;
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

describe('a WAL sync that fails (SQLite)', () => {
  it('is never acknowledged, and the process stops instead of acknowledging more', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    receiver = await startStuckReceiver();
    const signer = sendGridSigner();
    const post = (url: string, sourceId: string, events: Record<string, unknown>[]) => {
      const body = sendGridBody(events);
      return fetch(`${url}/ingest/${sourceId}`, {
        method: 'POST',
        headers: signer.headers(body),
        body,
        signal: AbortSignal.timeout(10_000),
      });
    };

    // Set up on a healthy node, then restart it with the fault.
    const setup = await startServer({ dataDir, env: ENV });
    const sourceId = await createSendGridSource(setup.url, signer, 'sendgrid');
    const endpoint = await api(setup.url, '/v1/endpoints', {
      method: 'POST',
      body: { url: receiver.url, event_types: ['email.*'] },
    });
    expect(endpoint.status).toBe(201);
    await setup.stop();

    const faulty = await startServer({ dataDir, env: { ...ENV, MAILHOOK_FAULT_INJECTION: 'fail-wal-sync' } });
    // With nothing in flight the commit syncs itself (the fault is not on that path): acknowledged.
    const first = sendGridEvents(1);
    const acknowledged = await post(faulty.url, sourceId, first);
    expect(acknowledged.status).toBe(200);
    await acknowledged.arrayBuffer();
    // Its delivery now hangs at the receiver: the next commit leaves its sync to the thread pool.
    await waitFor('an attempt in flight', async () => (receiver?.open() ?? 0) > 0 || undefined, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const refused = sendGridEvents(1);
    const status = await post(faulty.url, sourceId, refused).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 'no answer' as const,
    );
    expect(status).not.toBe(200);
    const exit = await withTimeout(faulty.exited, 10_000, 'the exit after the failed sync');
    expect(exit.code).toBe(74);
    expect(faulty.stdout() + faulty.stderr()).toContain('a commit could not be made durable; mailhook stops');

    // A restart (no fault) serves what was acknowledged.
    const restarted = await startServer({ dataDir, env: ENV });
    const stored = await allEvents(restarted.url, sourceId);
    expect(stored.map((event) => event.data.provider_event_id)).toContain(first[0]?.sg_event_id);
    await restarted.stop();
  }, 60_000);
});
