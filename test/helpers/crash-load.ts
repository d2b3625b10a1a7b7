import { randomInt } from './pg-database.js';
import { api, type ServerProcess, waitFor } from './process.js';
import { type SendGridSigner, sendGridBody, sendGridEvents } from './sendgrid.js';

/** What the senders of one crash cycle saw. */
export interface CrashLoadResult {
  /** Requests answered 200. */
  acknowledgedRequests: number;
  /** sg_event_ids of the requests answered 200. */
  acknowledgedIds: string[];
  /** sg_event_ids of every request sent, acknowledged or not. */
  sentIds: string[];
  /** Requests that failed at the network level (in flight at the kill, or sent after it). */
  failedRequests: number;
  /** Answers other than 200 (status → count): none are expected from a healthy server. */
  unexpected: Map<number, number>;
}

export interface CrashLoad {
  /** Counts so far; final once `stop()` has resolved. */
  readonly result: CrashLoadResult;
  /** Resolves once the server has acknowledged a request, so a kill always lands on real traffic. */
  firstAcknowledged(): Promise<void>;
  /** Stops sending (call after the kill) and waits for every sender to finish. */
  stop(): Promise<CrashLoadResult>;
}

/** POSTs one signed SendGrid body: the answer's status, or null when the request failed on the network. */
export async function postSigned(url: string, signer: SendGridSigner, body: string): Promise<number | null> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: signer.headers(body),
      body,
      signal: AbortSignal.timeout(5000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

/**
 * `workers` concurrent senders POSTing signed SendGrid batches of 1–5 events until stopped; only
 * requests answered 200 count as acknowledged. The crash tests of both stores share it.
 */
export function crashLoad(ingestUrl: string, signer: SendGridSigner, workers = 20): CrashLoad {
  const result: CrashLoadResult = {
    acknowledgedRequests: 0,
    acknowledgedIds: [],
    sentIds: [],
    failedRequests: 0,
    unexpected: new Map(),
  };
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      const events = sendGridEvents(randomInt(1, 5));
      const body = sendGridBody(events);
      for (const event of events) result.sentIds.push(String(event.sg_event_id));
      const status = await postSigned(ingestUrl, signer, body);
      if (status === null) {
        result.failedRequests++;
        continue;
      }
      if (status === 200) {
        result.acknowledgedRequests++;
        for (const event of events) result.acknowledgedIds.push(String(event.sg_event_id));
      } else {
        result.unexpected.set(status, (result.unexpected.get(status) ?? 0) + 1);
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return {
    result,
    firstAcknowledged: () =>
      waitFor(
        'a first acknowledged request',
        async () => (result.acknowledgedRequests > 0 ? true : undefined),
        {
          timeoutMs: 30_000,
          intervalMs: 10,
        },
      ).then(() => undefined),
    async stop() {
      stopped = true;
      await running;
      return result;
    },
  };
}

export async function waitUntilNothingPending(server: ServerProcess): Promise<void> {
  await waitFor(
    'the pipeline to process every pending inbox row',
    async () => {
      const pending = await api<{ data: unknown[] }>(server.url, '/v1/inbox?status=pending&limit=1');
      return pending.status === 200 && pending.body.data.length === 0 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}
