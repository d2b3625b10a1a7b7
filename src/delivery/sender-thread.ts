import { Worker } from 'node:worker_threads';
import type { DeliveryErrorClass, DeliveryRequest, DeliveryResponse } from './http-client.js';
import type { FromSender, SenderThreadData, ToSender } from './sender-messages.js';
import type { Sender } from './worker.js';

/**
 * The thread's young generation. What it allocates dies within a request, so a small one is
 * scavenged often and cheaply; V8's default grows it to tens of MB under load.
 */
const SENDER_YOUNG_GENERATION_MB = 8;
/** After a thread that died unexpectedly, the next one starts this much later, doubling up to the max. */
const RESTART_BACKOFF_MS = 250;
const RESTART_BACKOFF_MAX_MS = 5000;
/** A send the thread has not answered this long after its own deadline: the thread is taken as wedged. */
const ANSWER_GRACE_MS = 5000;

export interface SenderThreadOptions {
  /** Where errors of the thread itself go (not the requests' failures, which are answers). */
  log: { error(fields: object, message: string): void };
  /** Tests: another thread script, and a shorter grace. */
  script?: URL;
  answerGraceMs?: number;
}

interface Waiting {
  resolve: (response: DeliveryResponse) => void;
  /** The thread it was posted to; null while in the outbox. */
  worker: Worker | null;
  /** When, without an answer, the thread is taken as wedged. */
  deadline: number;
}

/**
 * Sends deliveries from a thread of their own (sender-worker.ts runs the DeliveryClient there).
 *
 * The delivery worker runs on the pipeline thread, which on SQLite is also the one writer: every
 * ingest commit, claim and attempt record takes its turn there. Measured on 2026-12-08, undici's
 * request and response handling was a sixth of that thread's busy time at the sustained end-to-end
 * rate, while the cores had a quarter to spare (docs/benchmarks.md). Here it costs the pipeline
 * thread one structured clone per turn's requests and one per turn's answers. An answer's
 * `durationMs` is the HTTP exchange's, timed on the sender thread.
 *
 * A thread that dies, or stops answering past a request's deadline, is logged; what it had in flight
 * is answered as `connection_reset` (the request may or may not have reached the endpoint, as when a
 * connection drops; the attempt is retried on the policy's schedule). The next thread starts with a
 * backoff, and sends made meanwhile wait for it rather than fail, so a fault of this process is not
 * recorded against every endpoint again and again.
 */
export class SenderThread implements Sender {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** Requests not posted yet: this turn's, or all of them while a restart waits out its backoff. */
  private outbox: Extract<ToSender, { type: 'send' }>['requests'] = [];
  private closing: Promise<void> | null = null;
  /** Threads that died in a row without answering anything, and when the next may start. */
  private deaths = 0;
  private restartAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly graceMs: number;

  constructor(
    private readonly data: SenderThreadData,
    private readonly options: SenderThreadOptions,
  ) {
    this.graceMs = options.answerGraceMs ?? ANSWER_GRACE_MS;
  }

  send(request: DeliveryRequest): Promise<DeliveryResponse> {
    if (this.closing) return Promise.resolve(failed('other', 'the delivery sender is closing'));
    const id = this.nextId++;
    const deadline = Date.now() + request.timeoutMs + this.graceMs;
    const answer = new Promise<DeliveryResponse>((resolve) =>
      this.waiting.set(id, { resolve, worker: null, deadline }),
    );
    if (this.outbox.length === 0 && !this.restartTimer) queueMicrotask(() => this.post());
    this.outbox.push({ id, request });
    this.sweepTimer ??= setInterval(() => this.sweep(), Math.min(1000, this.graceMs)).unref();
    return answer;
  }

  /** Lets the sends in flight finish, then stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Sends accepted so far go first, backoff or not, so the thread sees them before it closes.
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.restartTimer = null;
      this.restartAt = 0;
      this.post();
      const worker = this.worker;
      if (worker) {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'close' } satisfies ToSender);
        await exited;
      }
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    })();
    return this.closing;
  }

  private post(): void {
    if (this.outbox.length === 0) return;
    const wait = this.worker ? 0 : this.restartAt - Date.now();
    if (wait > 0) {
      this.restartTimer ??= setTimeout(() => {
        this.restartTimer = null;
        this.post();
      }, wait);
      return;
    }
    const requests = this.outbox;
    this.outbox = [];
    try {
      const worker = this.started();
      for (const { id } of requests) {
        const entry = this.waiting.get(id);
        if (entry) entry.worker = worker;
      }
      worker.postMessage({ type: 'send', requests } satisfies ToSender);
    } catch (err) {
      this.options.log.error(
        { err, requests: requests.length },
        'could not hand requests to the delivery sender thread',
      );
      for (const { id } of requests)
        this.settle(id, failed('other', 'the delivery sender thread could not take the request'));
      this.worker?.terminate().catch(() => {});
    }
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.script ?? new URL('./sender-worker.js', import.meta.url), {
      workerData: this.data,
      resourceLimits: { maxYoungGenerationSizeMb: SENDER_YOUNG_GENERATION_MB },
    });
    worker.on('message', (answers: FromSender) => {
      this.deaths = 0;
      for (const { id, response } of answers) this.settle(id, response);
    });
    // Followed by 'exit', which settles what the thread had.
    worker.on('error', (err) => this.options.log.error({ err }, 'the delivery sender thread failed'));
    worker.on('messageerror', (err) => {
      this.options.log.error({ err }, 'an answer from the delivery sender thread could not be read');
      worker.terminate().catch(() => {});
    });
    worker.on('exit', (code) => this.exited(worker, code));
    this.worker = worker;
    return worker;
  }

  private exited(worker: Worker, code: number): void {
    if (this.worker === worker) this.worker = null;
    let lost = 0;
    for (const [id, entry] of this.waiting) {
      if (entry.worker !== worker) continue;
      lost++;
      this.settle(
        id,
        failed(
          'connection_reset',
          'the delivery sender thread stopped before the response; the request may have been received',
        ),
      );
    }
    if (this.closing) return;
    this.deaths++;
    this.restartAt =
      Date.now() + Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** (this.deaths - 1));
    this.options.log.error(
      { code, inFlight: lost, restartInMs: this.restartAt - Date.now() },
      'the delivery sender thread stopped; its requests in flight are retried',
    );
    if (this.outbox.length > 0) this.post();
  }

  /** A thread that has not answered a request past its deadline is wedged: stop it (exit settles the rest). */
  private sweep(): void {
    if (this.waiting.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
      return;
    }
    const worker = this.worker;
    if (!worker) return;
    const now = Date.now();
    for (const entry of this.waiting.values()) {
      if (entry.worker === worker && entry.deadline < now) {
        this.options.log.error(
          { overdueMs: now - entry.deadline },
          'the delivery sender thread stopped answering',
        );
        worker.terminate().catch(() => {});
        return;
      }
    }
  }

  private settle(id: number, response: DeliveryResponse): void {
    const entry = this.waiting.get(id);
    this.waiting.delete(id);
    entry?.resolve(response);
  }
}

function failed(errorClass: DeliveryErrorClass, message: string): DeliveryResponse {
  return { kind: 'error', errorClass, message, durationMs: 0 };
}
