import { expect } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { storedDedupKey } from '../../src/store/dedup-key.js';
import { createSendGridSource, randomInt, sleep } from './pg-database.js';
import { api, type Exit, waitFor, withTimeout } from './process.js';
import { type ReceivedRequest, type Receiver, startReceiver, verifiedByBoth } from './receiver.js';
import { createEndpoint, postBatch } from './reliability.js';
import { type SendGridSigner, sendGridEvents, sendGridSigner } from './sendgrid.js';
import { type Progress, type Snapshot, type StoreProbe, sendGridInboxRow } from './store-probe.js';

/**
 * The crash-during-pipeline-and-delivery scenario, run on either store: a large backlog is written
 * into the inbox, then a server works through it (parsing, storing events, fanning out and
 * delivering) while a few senders keep ingesting, and is SIGKILLed at random moments. After the
 * last restart has drained everything, the database itself is checked: every row processed once,
 * every event stored once, every delivery finished, and no success without the receiver's 2xx.
 */

export interface CrashNode {
  url: string;
  crash(): Promise<Exit>;
  stop(timeoutMs?: number): Promise<Exit>;
  exited: Promise<Exit>;
}

/** MAILHOOK_DELIVERY_CONCURRENCY's default. */
const DEFAULT_POOL = Number(VARIABLES.MAILHOOK_DELIVERY_CONCURRENCY.default);

export interface CrashScenarioOptions {
  probe: StoreProbe;
  start: () => Promise<CrashNode>;
  /**
   * Starts a node that kills itself (MAILHOOK_FAULT_INJECTION) for each cycle, instead of the test
   * killing it at a random moment; `start` is then used for setup and the final drain.
   */
  startSelfKilling?: () => Promise<CrashNode>;
  cycles: number;
  backlogRows: number;
  /** How long to wait for the final drain (PostgreSQL must wait out the killed node's leases). */
  drainTimeoutMs: number;
  label: string;
}

export interface CycleFigures {
  killAfterMs: number;
  atKill: Progress;
  acknowledged: number;
  refused: number;
}

export interface CrashFigures {
  cycles: CycleFigures[];
  backlogRows: number;
  backlogEvents: number;
  rows: number;
  events: number;
  deliveries: number;
  receiverRequests: number;
  /** Events the receiver got more than once (at-least-once after a kill). */
  redelivered: number;
  drainMs: number;
}

interface Sent {
  /** Inbox row id → the sg_event_ids in it (backlog rows and acknowledged live requests). */
  rows: Map<string, string[]>;
  /** Every sg_event_id sent, acknowledged or not. */
  all: Set<string>;
}

/** A few senders ingesting signed batches until `stopped()`; acknowledged rows are recorded by inbox id. */
async function liveLoad(
  url: string,
  sourceId: string,
  signer: SendGridSigner,
  sent: Sent,
  stopped: () => boolean,
  pace: { senders: number; pauseMs: number } = { senders: 4, pauseMs: 0 },
) {
  let acknowledged = 0;
  let refused = 0;
  const sender = async () => {
    while (!stopped()) {
      const events = sendGridEvents(randomInt(1, 5));
      const ids = events.map((e) => String(e.sg_event_id));
      for (const id of ids) sent.all.add(id);
      const answer = await postBatch(url, sourceId, signer, events, { timeoutMs: 5000 });
      if (answer.status === 200) {
        acknowledged++;
        sent.rows.set((JSON.parse(answer.body) as { id: string }).id, ids);
        if (pace.pauseMs > 0) await sleep(pace.pauseMs);
      } else {
        refused++;
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: pace.senders }, sender));
  return { acknowledged, refused };
}

/**
 * After the random delay, waits (a few seconds at most) until some deliveries are leased, so every kill
 * lands with deliveries in flight: under a loaded test machine the delay alone sometimes fell before
 * the worker's first claim.
 */
async function untilLeased(probe: StoreProbe): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await probe.progress()).leasedDeliveries === 0 && Date.now() < deadline) await sleep(25);
}

export async function runCrashScenario(options: CrashScenarioOptions): Promise<CrashFigures> {
  const { probe } = options;
  const receiver: Receiver = await startReceiver({
    respond: (r) => ({ status: 200, delayMs: (r.index % 4) * 10 }),
  });
  try {
    const signer = sendGridSigner();
    let node = await options.start();
    const sourceId = await createSendGridSource(node.url, signer, options.label);
    const endpoint = await createEndpoint(node.url, receiver.url, { max_concurrency: 50 });
    receiver.secrets.push(endpoint.secret);
    await node.stop();

    const sent: Sent = { rows: new Map(), all: new Set() };
    const backlog = Array.from({ length: options.backlogRows }, () => {
      const events = sendGridEvents(randomInt(1, 5));
      const row = sendGridInboxRow(sourceId, events);
      const ids = events.map((e) => String(e.sg_event_id));
      sent.rows.set(row.id, ids);
      for (const id of ids) sent.all.add(id);
      return row;
    });
    await probe.prefill(backlog);
    const backlogEvents = [...sent.rows.values()].reduce((n, ids) => n + ids.length, 0);

    const cycles: CycleFigures[] = [];
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      node = await (options.startSelfKilling ?? options.start)();
      let stopped = false;
      // A self-killing node dies at its n-th hand-off, and fresh deliveries are handed off only while
      // the worker keeps up with the endpoint: a flood would leave it behind, handing off nothing.
      const pace = options.startSelfKilling ? { senders: 2, pauseMs: 20 } : undefined;
      const load = liveLoad(node.url, sourceId, signer, sent, () => stopped, pace);
      const started = Date.now();
      let atKill: Progress;
      let exit: Exit;
      if (options.startSelfKilling) {
        exit = await withTimeout(node.exited, 90_000, 'the node to kill itself at the injected fault');
        atKill = await probe.progress();
      } else {
        await sleep(randomInt(300, 1200));
        await untilLeased(probe);
        exit = await node.crash();
        // Read from the store as the kill left it: exactly what was leased at that moment. A reading
        // taken just before the kill missed what the node leased in between (about 20 of 50 in flight
        // once delivery's HTTP ran on a thread of its own, with deliveries turning over faster).
        atKill = await probe.progress();
      }
      const killAfterMs = Date.now() - started;
      stopped = true;
      const { acknowledged, refused } = await load;
      expect(exit.signal).toBe('SIGKILL');
      // What a kill can send twice is what the node held leased: its pool bounds that, results not
      // yet recorded included (the tests run with the default MAILHOOK_DELIVERY_CONCURRENCY). An
      // invariant watched at every kill; these runs stay far below it while recording keeps up (32-59
      // leased per node), so worker-recording.test.ts is what holds results back to test the bound.
      expect(atKill.mostLeasedByOneWorker, 'deliveries leased to one node at the kill').toBeLessThanOrEqual(
        DEFAULT_POOL,
      );
      cycles.push({ killAfterMs, atKill, acknowledged, refused });
    }

    node = await options.start();
    const drainStarted = Date.now();
    await waitFor(
      'the backlog to be processed and every delivery to finish',
      async () => {
        const p = await probe.progress();
        return p.pendingRows === 0 && p.pendingDeliveries === 0 ? true : undefined;
      },
      { timeoutMs: options.drainTimeoutMs, intervalMs: 250 },
    );
    const drainMs = Date.now() - drainStarted;
    const ready = await api(node.url, '/readyz');
    expect(ready.status).toBe(200);
    await node.stop();

    const snapshot = await probe.snapshot();
    // mailhook's own system.* events (another source) are not part of what was sent.
    snapshot.events = snapshot.events.filter((e) => e.source_id === sourceId);
    const figures = check(snapshot, sent, receiver);
    return {
      cycles,
      backlogRows: options.backlogRows,
      backlogEvents,
      ...figures,
      drainMs,
    };
  } finally {
    await receiver.close();
  }
}

const is2xx = (r: ReceivedRequest) =>
  r.answeredStatus !== null && r.answeredStatus >= 200 && r.answeredStatus < 300;

/** The invariants, on the database as the last (clean) stop left it. */
function check(snapshot: Snapshot, sent: Sent, receiver: Receiver) {
  const rowsById = new Map(snapshot.inbox.map((row) => [row.id, row]));
  const problems: string[] = [];

  // No inbox row lost, none left unprocessed, none counted twice.
  for (const [id, ids] of sent.rows) {
    const row = rowsById.get(id);
    if (!row) problems.push(`inbox row ${id} (acknowledged or backlog) is missing`);
    else if (row.status !== 'processed') problems.push(`inbox row ${id} is ${row.status}`);
    else if (row.event_count !== ids.length || row.duplicate_count !== 0) {
      problems.push(
        `inbox row ${id}: ${ids.length} events sent, counted ${row.event_count} new + ${row.duplicate_count} duplicates`,
      );
    }
  }
  for (const row of snapshot.inbox) {
    if (row.status !== 'processed') problems.push(`inbox row ${row.id} is ${row.status}`);
    if (row.duplicate_count !== 0)
      problems.push(`inbox row ${row.id} counted ${row.duplicate_count} duplicates`);
  }

  // No event stored twice, each in the row it came in, nothing nobody sent. Keys as the store keeps them.
  const rowOf = new Map<string, string>();
  for (const [id, ids] of sent.rows) for (const eventId of ids) rowOf.set(storedDedupKey(eventId), id);
  const sentKeys = new Set([...sent.all].map(storedDedupKey));
  const keys = new Map<string, number>();
  for (const event of snapshot.events) keys.set(event.dedup_key, (keys.get(event.dedup_key) ?? 0) + 1);
  const duplicated = [...keys].filter(([, n]) => n > 1).map(([k]) => k);
  if (duplicated.length > 0) problems.push(`events stored twice: ${duplicated.slice(0, 5).join(', ')}`);
  for (const event of snapshot.events) {
    if (!sentKeys.has(event.dedup_key)) problems.push(`event ${event.dedup_key} was never sent`);
    const expectedRow = rowOf.get(event.dedup_key);
    if (expectedRow !== undefined && event.inbox_id !== expectedRow) {
      problems.push(`event ${event.dedup_key} attributed to ${event.inbox_id}, sent in ${expectedRow}`);
    }
  }
  for (const eventId of rowOf.keys()) if (!keys.has(eventId)) problems.push(`event ${eventId} is missing`);
  const counted = snapshot.inbox.reduce((n, row) => n + row.event_count, 0);
  if (counted !== snapshot.events.length) {
    problems.push(`inbox rows count ${counted} events, the events table holds ${snapshot.events.length}`);
  }

  // One delivery per event, every one succeeded, each success backed by a 2xx the receiver sent.
  const eventIds = new Set(snapshot.events.map((e) => e.id));
  const deliveredEvents = new Set(snapshot.deliveries.map((d) => d.event_id));
  if (snapshot.deliveries.length !== eventIds.size || deliveredEvents.size !== eventIds.size) {
    problems.push(`${snapshot.deliveries.length} deliveries for ${eventIds.size} events`);
  }
  for (const delivery of snapshot.deliveries) {
    const answered2xx = receiver.byId(delivery.event_id).filter(is2xx).length;
    if (delivery.status !== 'succeeded') problems.push(`delivery ${delivery.id} is ${delivery.status}`);
    if (delivery.ok > answered2xx || (delivery.status === 'succeeded' && answered2xx === 0)) {
      problems.push(
        `delivery ${delivery.id}: ${delivery.ok} ok attempts, ${answered2xx} 2xx sent by the receiver`,
      );
    }
  }
  const unsigned = receiver.requests.filter((r) => !verifiedByBoth(r)).length;
  if (unsigned > 0) problems.push(`${unsigned} requests whose signature did not verify`);

  expect(problems.slice(0, 30)).toEqual([]);
  const redelivered = [...eventIds].filter((id) => receiver.byId(id).length > 1).length;
  return {
    rows: snapshot.inbox.length,
    events: snapshot.events.length,
    deliveries: snapshot.deliveries.length,
    receiverRequests: receiver.requests.length,
    redelivered,
  };
}

export function describeFigures(label: string, f: CrashFigures): string {
  const kills = f.cycles
    .map(
      (c, i) =>
        `kill ${i + 1} after ${c.killAfterMs} ms: ${c.atKill.pendingRows} rows pending, ` +
        `${c.atKill.pendingDeliveries} deliveries pending (${c.atKill.leasedDeliveries} in flight, ${c.atKill.mostLeasedByOneWorker} of them by one node), ` +
        `${c.acknowledged} live requests acknowledged`,
    )
    .join('; ');
  return (
    `${label}: backlog ${f.backlogRows} rows / ${f.backlogEvents} events; ${kills}; after the last restart ` +
    `drained in ${(f.drainMs / 1000).toFixed(1)} s: ${f.rows} rows, ${f.events} events, ${f.deliveries} deliveries ` +
    `all succeeded, ${f.receiverRequests} requests at the receiver, ${f.redelivered} events delivered more than once`
  );
}
