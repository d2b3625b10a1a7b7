import { Worker } from 'node:worker_threads';
import type { DeliveryRequest, DeliveryResponse } from './http-client.js';
import type { SenderThreadData, ToSender } from './sender-messages.js';
import type { Sender } from './worker.js';

/**
 * Sends deliveries from a thread of their own (sender-worker.ts runs the DeliveryClient there).
 *
 * The delivery worker runs on the pipeline thread, which on SQLite is also the one writer: every
 * ingest commit, claim and attempt record takes its turn there. Measured on 2026-12-08, undici's
 * request and response handling was a sixth of that thread's busy time at the sustained end-to-end
 * rate, while the cores had a quarter to spare (docs/benchmarks.md). Here it costs the pipeline
 * thread one structured clone per turn's requests and one per turn's answers.
 *
 * A sender thread that dies answers what it had in flight as connection errors (the attempts are
 * retried, as after a reset connection) and is started again by the next send.
 */
/**
 * The thread's young generation. What it allocates dies within a request, so a small one is
 * scavenged often and cheaply; V8's default grows it to tens of MB under load.
 */
const SENDER_YOUNG_GENERATION_MB = 8;

export class SenderThread implements Sender {
  private worker: Worker | null = null;
  private nextId = 0;
  /** Sends not answered yet, with the thread each was posted to (none while still in the outbox). */
  private readonly waiting = new Map<
    number,
    { resolve: (response: DeliveryResponse) => void; worker: Worker | null }
  >();
  /** Requests of this turn, posted together. */
  private outbox: Extract<ToSender, { type: 'send' }>['requests'] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly data: SenderThreadData) {}

  send(request: DeliveryRequest): Promise<DeliveryResponse> {
    if (this.closing) return Promise.resolve(failed('the delivery sender is closing', 0));
    const id = this.nextId++;
    const answer = new Promise<DeliveryResponse>((resolve) =>
      this.waiting.set(id, { resolve, worker: null }),
    );
    if (this.outbox.length === 0) queueMicrotask(() => this.post());
    this.outbox.push({ id, request });
    return answer;
  }

  /** Lets the sends in flight finish, then stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Sends of this turn go first, so the thread sees them before it is told to close.
      this.post();
      const worker = this.worker;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' } satisfies ToSender);
      await exited;
    })();
    return this.closing;
  }

  private post(): void {
    const requests = this.outbox;
    this.outbox = [];
    if (requests.length === 0) return;
    const worker = this.started();
    for (const { id } of requests) {
      const entry = this.waiting.get(id);
      if (entry) entry.worker = worker;
    }
    worker.postMessage({ type: 'send', requests } satisfies ToSender);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./sender-worker.js', import.meta.url), {
      workerData: this.data,
      resourceLimits: { maxYoungGenerationSizeMb: SENDER_YOUNG_GENERATION_MB },
    });
    worker.on('message', (answers: Array<{ id: number; response: DeliveryResponse }>) => {
      for (const { id, response } of answers) {
        const entry = this.waiting.get(id);
        this.waiting.delete(id);
        entry?.resolve(response);
      }
    });
    // An error event is followed by exit; exit settles everything still waiting.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
      for (const [id, entry] of this.waiting) {
        if (entry.worker !== worker) continue;
        this.waiting.delete(id);
        entry.resolve(failed('the delivery sender thread stopped before the response', 0));
      }
    });
    this.worker = worker;
    return worker;
  }
}

function failed(message: string, durationMs: number): DeliveryResponse {
  return { kind: 'error', errorClass: 'other', message, durationMs };
}
