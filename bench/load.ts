import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { Agent, request } from 'node:http';

/**
 * Load generator, run as its own process so it does not share a core's event loop with the target.
 * Sends SendGrid-signed batches with fresh sg_event_ids (so dedup never short-cuts the work) at a
 * fixed concurrency, optionally capped at a rate, and prints one JSON result line.
 */
export interface LoadOptions {
  url: string;
  privateKeyPem: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  eventsPerRequest: number;
  /** Requests per second across all workers; 0 = as fast as possible. */
  rate?: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
  rps: number;
  eventsPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number };
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const key = createPrivateKey(options.privateKeyPem);
const target = new URL(options.url);
const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
const TYPES = ['processed', 'delivered', 'delivered', 'open', 'click', 'bounce', 'deferred'];

function signedBody(): { body: Buffer; headers: Record<string, string | number> } {
  const ts = Math.floor(Date.now() / 1000);
  const events = Array.from({ length: options.eventsPerRequest }, (_, i) => {
    const msg = randomUUID().replace(/-/g, '').slice(0, 22);
    const event = TYPES[i % TYPES.length];
    return {
      email: `user.${msg.slice(0, 8)}@example.com`,
      timestamp: ts,
      'smtp-id': `<${msg}@ismtpd0001p1mdw1.sendgrid.net>`,
      event,
      category: ['bench'],
      sg_event_id: randomUUID(),
      sg_message_id: `${msg}.filterdrecv-p3mdw1-56c97568b5-abcde-18-5F5FC76C-9.0`,
      ...(event === 'bounce' && { type: 'bounce', status: '5.1.1', reason: '550 5.1.1 unknown user' }),
      ...(event === 'click' && { url: 'https://example.com/landing' }),
    };
  });
  const body = Buffer.from(`${JSON.stringify(events)}\r\n`);
  const signature = sign('sha256', Buffer.concat([Buffer.from(String(ts)), body]), {
    key,
    dsaEncoding: 'der',
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': body.length,
      'x-twilio-email-event-webhook-signature': signature.toString('base64'),
      'x-twilio-email-event-webhook-timestamp': String(ts),
    },
  };
}

function post(payload: ReturnType<typeof signedBody>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: payload.headers,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload.body);
  });
}

// Signing costs the generator CPU; sign a pool up front and top it up only if it runs dry.
const pool = Array.from({ length: 20_000 }, signedBody);

async function run(): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let measuring = false;
  let stop = false;
  const interval = options.rate ? (1000 * options.concurrency) / options.rate : 0;

  async function worker(): Promise<void> {
    let next = performance.now();
    while (!stop) {
      if (interval) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += interval;
      }
      const payload = pool.pop() ?? signedBody();
      const started = performance.now();
      try {
        const status = await post(payload);
        if (measuring) {
          latencies.push(performance.now() - started);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      } catch {
        if (measuring) errors++;
      }
    }
  }

  const workers = Array.from({ length: options.concurrency }, worker);
  await new Promise((r) => setTimeout(r, options.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, options.durationMs));
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  const ok = statuses['200'] ?? 0;
  return {
    requests: latencies.length,
    ok,
    statuses,
    errors,
    seconds: Number(seconds.toFixed(2)),
    rps: Math.round(ok / seconds),
    eventsPerSec: Math.round((ok * options.eventsPerRequest) / seconds),
    latencyMs: { p50: at(0.5), p99: at(0.99), p999: at(0.999) },
  };
}

process.stdout.write(`${JSON.stringify(await run())}\n`);
