import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { Rng } from './rng.js';
import { isExpected, REASON_BODY_BYTES, reasonOf, type Summary, Tally } from './stats.js';
import { planTraffic, type Slot, type Traffic } from './traffic.js';
import type { AnySimulator, SimRequest } from './types.js';

export interface RunOptions {
  simulator: AnySimulator;
  credential: unknown;
  url: string;
  count: number;
  /** Events per request; clamped to what the provider batches. */
  batch: number;
  /** Requests per second; 0 = as fast as `concurrency` allows. */
  rate: number;
  concurrency: number;
  duplicates: number;
  badSignatures: number;
  shuffle: boolean;
  seed: number;
  timeoutMs: number;
  /** Called after every answer (for the progress bar). */
  onProgress?: (tally: Tally, total: number) => void;
  /** Aborting stops sending new requests; those in flight are awaited and counted. */
  signal?: AbortSignal;
}

/** The target URL with the request's own query parameters appended to any it already has. */
export function targetPath(url: URL, query: string): string {
  if (query === '') return `${url.pathname}${url.search}`;
  return `${url.pathname}${url.search === '' ? '?' : `${url.search}&`}${query}`;
}

/** The first `limit` bytes of a body as text; the rest is read and dropped, so the connection is reused. */
async function head(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type PlanOptions = Pick<
  RunOptions,
  'simulator' | 'credential' | 'url' | 'count' | 'batch' | 'duplicates' | 'badSignatures' | 'shuffle' | 'seed'
>;

export interface PreparedRun {
  traffic: Traffic;
  /** The request of a slot, built (and signed) the first time it is asked for, reused after. */
  requestOf(slot: Slot): SimRequest;
}

/**
 * Plans a run from its seed. Requests are built lazily, so signed timestamps stay fresh however
 * long the run; a duplicate gets the very bytes built for its original, whichever is sent first.
 */
export function prepareRun(options: PlanOptions): PreparedRun {
  const { simulator, credential } = options;
  const rng = new Rng(options.seed);
  const traffic = planTraffic(rng, {
    count: options.count,
    batch: Math.max(1, Math.min(options.batch, simulator.maxBatch)),
    duplicates: options.duplicates,
    badSignatures: options.badSignatures,
    shuffle: options.shuffle,
    kinds: simulator.kinds,
    now: new Date(),
  });
  const forged = traffic.bad > 0 ? simulator.forge(credential, rng) : null;
  const built = new Map<number, SimRequest>();
  return {
    traffic,
    requestOf(slot) {
      let request = built.get(slot.request);
      if (!request) {
        const key = slot.kind === 'bad' ? forged : credential;
        request = simulator.request(slot.events, key, { rng, now: new Date(), url: options.url });
        built.set(slot.request, request);
      }
      return request;
    },
  };
}

/**
 * Sends the planned traffic: `concurrency` workers take the next request in order, each waiting for
 * its start time when a rate is set.
 */
export async function runSimulation(options: RunOptions): Promise<Summary> {
  const { simulator } = options;
  const { traffic, requestOf } = prepareRun(options);
  const url = new URL(options.url);
  const pool = new Pool(url.origin, {
    connections: options.concurrency,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const tally = new Tally();
  const total = traffic.slots.length;
  const started = performance.now();
  let next = 0;

  async function send(slot: Slot): Promise<void> {
    const request = requestOf(slot);
    const t0 = performance.now();
    try {
      const response = await pool.request({
        method: request.method,
        path: targetPath(url, request.query),
        headers: request.headers,
        ...(request.method === 'POST' && { body: request.body }),
      });
      const status = response.statusCode;
      // The body is read only when the answer is not the expected one: it says why (e.g. the source
      // has no key yet), and a summary saying only "401" leaves the user guessing.
      const reason = isExpected({ kind: slot.kind, status, latencyMs: 0 })
        ? await response.body.dump().then(() => undefined)
        : reasonOf(await head(response.body, REASON_BODY_BYTES));
      tally.add({ kind: slot.kind, status, ...(reason && { reason }), latencyMs: performance.now() - t0 });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      tally.add({ kind: slot.kind, status: null, error, latencyMs: performance.now() - t0 });
    }
    options.onProgress?.(tally, total);
  }

  async function worker(): Promise<void> {
    for (;;) {
      if (options.signal?.aborted) return;
      const index = next++;
      const slot = traffic.slots[index];
      if (!slot) return;
      if (options.rate > 0) {
        const due = started + (index * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (options.signal?.aborted) return;
      }
      await send(slot);
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, () => worker()));
  } finally {
    await pool.close();
  }
  const eventsSent = traffic.slots
    .filter((slot) => slot.kind === 'valid')
    .reduce((sum, slot) => sum + slot.events.length, 0);
  return tally.summary({
    provider: simulator.id,
    url: options.url,
    seed: options.seed,
    events: eventsSent,
    requests: {
      valid: traffic.requests,
      duplicates: traffic.duplicates,
      bad_signatures: traffic.bad,
      total,
    },
    duration_ms: Math.round(performance.now() - started),
    interrupted: tally.outcomes.length < total,
  });
}
