import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { crashLoad, waitUntilNothingPending } from '../helpers/crash-load.js';
import { allEvents, randomInt } from '../helpers/pg-database.js';
import { api, killAll, removeDir, startServer, tempDataDir } from '../helpers/process.js';
import { sendGridSigner } from '../helpers/sendgrid.js';

const CYCLES = 3;

const dirs: string[] = [];

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

// Both ways a group can be committed: stored pending for the pipeline, or processed in its own commit.
describe.each([
  { mode: 'pipeline', inline: 'false' },
  { mode: 'inline processing', inline: 'true' },
])('crash safety of the ingest path ($mode)', ({ inline }) => {
  const env = { MAILHOOK_INLINE_PROCESSING: inline };
  it('a request answered 200 is on disk: it survives SIGKILL and yields each of its events exactly once', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const signer = sendGridSigner();

    let server = await startServer({ dataDir, env });
    const created = await api<{ id: string; ingest_url: string }>(server.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'crash test', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.id;
    expect(created.body.ingest_url).toBe(`${server.url}/ingest/${sourceId}`);

    const acknowledged = new Set<string>();
    const sent = new Set<string>();

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      // Each start listens on a new free port, so the ingest URL follows the running server.
      const ingestUrl = `${server.url}/ingest/${sourceId}`;
      const loadMs = randomInt(300, 1500);
      const load = crashLoad(ingestUrl, signer);
      await load.firstAcknowledged();
      await new Promise((resolve) => setTimeout(resolve, loadMs));
      const victim = server;
      const exit = await victim.crash();
      const result = await load.stop();
      expect(exit.signal).toBe('SIGKILL');

      for (const id of result.acknowledgedIds) acknowledged.add(id);
      for (const id of result.sentIds) sent.add(id);
      console.log(
        `cycle ${cycle}: SIGKILL ${loadMs} ms after the first acknowledgement, ${result.acknowledgedRequests} requests acknowledged ` +
          `(${result.acknowledgedIds.length} events), ${result.failedRequests} failed at the kill`,
      );
      expect(Object.fromEntries(result.unexpected), 'answers other than 200 before the kill').toEqual({});
      expect(result.acknowledgedRequests, 'the load loop got no request through').toBeGreaterThan(0);

      server = await startServer({ dataDir, env });
      await waitUntilNothingPending(server);

      const events = await allEvents(server.url);
      const seen = new Map<string, number>();
      for (const event of events) {
        expect(event.data.source_id).toBe(sourceId);
        const key = String(event.data.provider_event_id);
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      const missing = [...acknowledged].filter((id) => !seen.has(id));
      const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      const unknown = [...seen.keys()].filter((id) => !sent.has(id));
      const eventIds = new Set(events.map((event) => event.id));
      console.log(
        `cycle ${cycle}: after restart ${events.length} events stored, ${acknowledged.size} acknowledged so far, ` +
          `${events.length - acknowledged.size} stored without an acknowledgement (in flight at the kill)`,
      );

      expect(missing, 'acknowledged events missing after restart').toEqual([]);
      expect(duplicated, 'events stored more than once').toEqual([]);
      // Stored but unacknowledged events (in flight at a kill) must still be ones the load loop sent.
      expect(unknown, 'events nobody sent').toEqual([]);
      expect(eventIds.size).toBe(events.length);

      const quarantined = await api<{ data: unknown[] }>(server.url, '/v1/inbox?status=quarantined&limit=1');
      expect(quarantined.body.data).toEqual([]);
    }

    await server.stop();
  }, 60_000);
});
