import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { checkSignature, type SecretCheck } from './receiver.js';

export { pick, seededRandom } from './random.js';

/**
 * A webhook receiver that misbehaves on purpose, the way real endpoints do: 500s, 429 and 503 with
 * Retry-After, requests left hanging past the sender's timeout, connections reset mid-request, and
 * 200s whose body trickles in (some fast enough, some never finishing). Each webhook-id follows a
 * plan — a list of faults, then a success or nothing — so a test knows exactly how many attempts
 * the retry policy must make and what each one must be recorded as.
 */

export type Fault = '500' | '429' | '503' | 'timeout' | 'reset' | 'slow-body-timeout';
export type Success = 'ok' | 'slow-body-ok';
export type Behaviour = Fault | Success;

export const FAULTS: readonly Fault[] = ['500', '429', '503', 'timeout', 'reset', 'slow-body-timeout'];

export interface Plan {
  faults: Fault[];
  /** null: the endpoint never succeeds for this event (the policy must give up). */
  success: Success | null;
}

export interface FlakyAttempt {
  webhookId: string;
  /** 1-based attempt number for this webhook-id as seen here. */
  nth: number;
  behaviour: Behaviour;
  /** `performance.now()` when the request body had been read. */
  receivedAt: number;
  /**
   * When the answer (or the reset) was complete; for a request left hanging, when the sender gave
   * up and closed the connection (null while it has not).
   */
  endedAt: number | null;
  check: SecretCheck | null;
}

export interface FlakyReceiverOptions {
  /** Decides, on the first request of a webhook-id, how that id will be treated. */
  planFor: (webhookId: string) => Plan;
  /** The sender's timeout: hanging requests are held this long plus a margin. */
  senderTimeoutMs: number;
  /** Seconds sent in Retry-After with 429 and 503. */
  retryAfterSec?: number;
  /** How long a slow-but-successful body takes to arrive in full. */
  slowBodyMs?: number;
}

export interface FlakyReceiver {
  url: string;
  secrets: string[];
  readonly attempts: FlakyAttempt[];
  byId(webhookId: string): FlakyAttempt[];
  plan(webhookId: string): Plan | undefined;
  /** What attempt `nth` of a planned id does. */
  behaviourOf(plan: Plan, nth: number): Behaviour;
  close(): Promise<void>;
}

export async function startFlakyReceiver(options: FlakyReceiverOptions): Promise<FlakyReceiver> {
  const attempts: FlakyAttempt[] = [];
  const perId = new Map<string, FlakyAttempt[]>();
  const plans = new Map<string, Plan>();
  const timers = new Set<NodeJS.Timeout>();
  const retryAfter = String(options.retryAfterSec ?? 1);
  const slowBodyMs = options.slowBodyMs ?? 300;
  let secrets: string[] = [];

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const behaviourOf = (plan: Plan, nth: number): Behaviour => {
    if (nth <= plan.faults.length) return plan.faults[nth - 1] as Fault;
    // Past the plan (a retry after a success was recorded, or a policy making too many attempts):
    // answer 200 so that the extra attempt shows up as an extra attempt, not as another failure.
    return plan.success ?? '500';
  };

  /** Writes `bytes` one byte every `everyMs`, then ends the response (or never, if `bytes` is Infinity). */
  const trickle = (res: ServerResponse, record: FlakyAttempt, bytes: number, everyMs: number): void => {
    let sent = 0;
    const step = (): void => {
      if (res.destroyed) return;
      if (sent >= bytes) {
        res.end(() => {
          record.endedAt = performance.now();
        });
        return;
      }
      res.write('.');
      sent++;
      later(everyMs, step);
    };
    step();
  };

  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const webhookId = headers['webhook-id'] ?? '';
    let plan = plans.get(webhookId);
    if (!plan) {
      plan = options.planFor(webhookId);
      plans.set(webhookId, plan);
    }
    const sameId = perId.get(webhookId) ?? [];
    perId.set(webhookId, sameId);
    const nth = sameId.length + 1;
    const behaviour = behaviourOf(plan, nth);
    const record: FlakyAttempt = {
      webhookId,
      nth,
      behaviour,
      receivedAt: performance.now(),
      endedAt: null,
      check: secrets.length > 0 ? checkSignature(secrets[0] as string, body, headers) : null,
    };
    sameId.push(record);
    attempts.push(record);

    const finish = (status: number, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain', ...extra });
      res.end(`status ${status}`, () => {
        record.endedAt = performance.now();
      });
    };
    switch (behaviour) {
      case 'ok':
        finish(200);
        return;
      case '500':
        finish(500);
        return;
      case '429':
      case '503':
        finish(Number(behaviour), { 'retry-after': retryAfter });
        return;
      case 'reset': {
        const socket = req.socket as Socket & { resetAndDestroy?: () => Socket };
        if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
        else socket.destroy();
        record.endedAt = performance.now();
        return;
      }
      case 'timeout':
        // Hold the request past the sender's deadline; the sender gives up first.
        res.once('close', () => {
          record.endedAt ??= performance.now();
        });
        later(options.senderTimeoutMs + 1000, () => res.destroy());
        return;
      case 'slow-body-timeout':
        // A 2xx status line the sender must not count: the body never completes in time.
        res.once('close', () => {
          record.endedAt ??= performance.now();
        });
        res.writeHead(200, { 'content-type': 'text/plain' });
        trickle(res, record, Number.POSITIVE_INFINITY, 100);
        return;
      case 'slow-body-ok':
        res.writeHead(200, { 'content-type': 'text/plain' });
        trickle(res, record, 6, Math.max(1, Math.floor(slowBodyMs / 6)));
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hook`,
    get secrets() {
      return secrets;
    },
    set secrets(value: string[]) {
      secrets = value;
    },
    attempts,
    byId: (webhookId) => perId.get(webhookId) ?? [],
    plan: (webhookId) => plans.get(webhookId),
    behaviourOf,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
