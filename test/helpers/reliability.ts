import { expect } from 'vitest';
import type { DeliveryView } from './pg-database.js';
import { api } from './process.js';
import { type SendGridSigner, sendGridBody, sendGridEvents } from './sendgrid.js';

/**
 * Small pieces shared by the reliability suite (test/e2e/reliability/*): signed ingest with its
 * answer kept, attempt logs, endpoints, and one-line figures for docs/reliability.md.
 */

export interface AttemptView {
  attempt: number;
  started_at: string;
  duration_ms: number;
  ok: boolean;
  http_status: number | null;
  error_class: string | null;
  error: string | null;
}

export interface IngestAnswer {
  /** HTTP status, or 0 when the request got no answer (connection refused, reset, timed out). */
  status: number;
  body: string;
  ms: number;
}

/** POSTs one signed SendGrid batch; never throws (a network failure is status 0). */
export async function postBatch(
  url: string,
  sourceId: string,
  signer: SendGridSigner,
  events: Record<string, unknown>[],
  options: { timeoutMs?: number; timestamp?: number; body?: string } = {},
): Promise<IngestAnswer> {
  const body = options.body ?? sendGridBody(events);
  const started = performance.now();
  try {
    const response = await fetch(`${url}/ingest/${sourceId}`, {
      method: 'POST',
      headers: signer.headers(body, options.timestamp),
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text, ms: performance.now() - started };
  } catch (err) {
    return { status: 0, body: String(err), ms: performance.now() - started };
  }
}

export interface LoadRecord {
  /** ms since the load's t0 when the request was sent and when its answer (or failure) came. */
  sentAt: number;
  endedAt: number;
  status: number;
  /** The sg_event_ids in the request. */
  ids: string[];
}

export interface LoadOptions {
  url: string;
  sourceId: string;
  signer: SendGridSigner;
  senders: number;
  t0: number;
  stopped: () => boolean;
  /** The events of one request; 1–5 plain ones by default. */
  events?: () => Record<string, unknown>[];
  /** Client timeout: long, so a request the server holds is measured rather than cut short. */
  timeoutMs?: number;
}

/** `senders` concurrent senders of signed batches until `stopped()`; every request is recorded. */
export function ingestLoad(options: LoadOptions): { records: LoadRecord[]; done: Promise<void> } {
  const records: LoadRecord[] = [];
  const make = options.events ?? (() => sendGridEvents(1 + Math.floor(Math.random() * 5)));
  const sender = async () => {
    while (!options.stopped()) {
      const events = make();
      const sentAt = performance.now() - options.t0;
      const answer = await postBatch(options.url, options.sourceId, options.signer, events, {
        timeoutMs: options.timeoutMs ?? 45_000,
      });
      records.push({
        sentAt,
        endedAt: performance.now() - options.t0,
        status: answer.status,
        ids: events.map((e) => String(e.sg_event_id)),
      });
      if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const done = Promise.all(Array.from({ length: options.senders }, sender)).then(() => undefined);
  return { records, done };
}

/** Creates an endpoint through the API; returns its id and secret. */
export async function createEndpoint(
  url: string,
  targetUrl: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; secret: string }> {
  const created = await api<{ id: string; secret: string }>(url, '/v1/endpoints', {
    method: 'POST',
    body: { url: targetUrl, ...extra },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

/** The attempt log of one delivery, oldest first. */
export async function attemptsOf(url: string, deliveryId: string): Promise<AttemptView[]> {
  const got = await api<DeliveryView & { attempts: AttemptView[] }>(url, `/v1/deliveries/${deliveryId}`);
  expect(got.status).toBe(200);
  return [...got.body.attempts].sort((a, b) => a.attempt - b.attempt);
}

/** Counts of each value, as a plain object for readable assertion failures and log lines. */
export function tally<T>(items: Iterable<T>, key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = String(key(item));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export { runSeed } from './random.js';
