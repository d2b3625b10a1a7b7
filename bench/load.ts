import { createHmac, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { Agent, request } from 'node:http';
import { sendGridBody as sendGridBodyText } from '../test/helpers/sendgrid.js';
import { postmarkRecord } from './postmark-record.js';
import { sendGridRecords } from './sendgrid-record.js';

/**
 * Load generator, run as its own process so it does not share a core's event loop with the target.
 * Sends requests with fresh ids (so dedup never short-cuts the work) at a fixed concurrency,
 * optionally capped at a rate or stopped after a count, and prints one JSON result line.
 *
 * Bodies, by `mode`:
 * - `sendgrid`: SendGrid batches, ECDSA-signed as SendGrid signs (mailhook and the floor);
 * - `postmark`: one Postmark event per POST, authenticated by a basic-auth header (no signature);
 * - `hmac`: the same SendGrid-shaped batch with a hex HMAC-SHA256 of the body in `x-signature`, the
 *   scheme a team's own handler typically checks (the status-quo target).
 */
export type LoadMode = 'sendgrid' | 'postmark' | 'hmac';

export interface LoadOptions {
  url: string;
  mode?: LoadMode;
  /** sendgrid: the PKCS#8 PEM private key whose public key the source holds. */
  privateKeyPem?: string;
  /** postmark: `user:password` of the source's basic auth. */
  basicAuth?: string;
  /** hmac: the shared secret. */
  hmacSecret?: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  eventsPerRequest: number;
  /** Requests per second across all workers; 0 = as fast as possible. */
  rate?: number;
  /** Send exactly this many requests (no warm-up, no time limit): fills a backlog. */
  totalRequests?: number;
  /**
   * Put the send time (ms since the epoch, sub-millisecond) into every event as the custom arg
   * `bench_sent_at` (Postmark: in the record's `Metadata`), so a receiver can measure ingest →
   * delivered. SendGrid bodies are then built and signed at send time instead of from the pre-signed
   * pool.
   */
  embedSendTime?: boolean;
  /** Pre-signed SendGrid bodies; past them, bodies are signed inline (which costs the generator CPU). */
  poolSize?: number;
  /** Cycle through the pre-signed pool instead of signing more (only for targets that never dedup). */
  reusePool?: boolean;
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
  /** Requests answered 200 including the warm-up (what a receiver gets events from). */
  totalOk: number;
  /** The measuring window, ms since the epoch (to count a receiver's arrivals inside it). */
  window: { start: number; end: number };
  /** Every request sent, warm-up included (what CPU use is divided by). */
  issued: number;
  /** The generator's own CPU per request sent (µs), signing of pre-built bodies excluded. */
  cpuUsPerRequest: number;
  /** The target process's CPU per request sent (µs, all its threads), added by the runner. */
  serverCpuUsPerRequest?: number;
  /** PostgreSQL's server processes' CPU per request sent over the same interval (µs). */
  postgresCpuUsPerRequest?: number;
  /** Bytes the target and PostgreSQL sent to storage per request sent, same interval (procs.ts writeMeter). */
  writtenBytesPerRequest?: number;
}

interface Payload {
  body: Buffer;
  headers: Record<string, string | number>;
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const mode: LoadMode = options.mode ?? 'sendgrid';
const key: KeyObject | null = options.privateKeyPem ? createPrivateKey(options.privateKeyPem) : null;
const target = new URL(options.url);
const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
const basicAuth = `Basic ${Buffer.from(options.basicAuth ?? '').toString('base64')}`;
const epochNow = () => performance.timeOrigin + performance.now();

function sendGridEvents(ts: number): Record<string, unknown>[] {
  return sendGridRecords(options.eventsPerRequest, ts, options.embedSendTime ? epochNow() : undefined);
}

function sendGridBody(): Payload {
  const ts = Math.floor(Date.now() / 1000);
  const body = Buffer.from(sendGridBodyText(sendGridEvents(ts)));
  if (!key) throw new Error('sendgrid mode needs privateKeyPem');
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

function hmacBody(): Payload {
  const body = Buffer.from(sendGridBodyText(sendGridEvents(Math.floor(Date.now() / 1000))));
  const signature = createHmac('sha256', options.hmacSecret ?? '')
    .update(body)
    .digest('hex');
  return {
    body,
    headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-signature': signature },
  };
}

let postmarkCount = 0;
function postmarkBody(): Payload {
  const body = postmarkRecord(postmarkCount++, options.embedSendTime ? epochNow() : undefined);
  return {
    body,
    headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: basicAuth },
  };
}

const build = mode === 'postmark' ? postmarkBody : mode === 'hmac' ? hmacBody : sendGridBody;

function post(payload: Payload): Promise<number> {
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

// ECDSA signing costs the generator CPU; sign a pool up front and top it up only if it runs dry.
// The other modes are cheap enough to build inline.
const pool: Payload[] =
  mode === 'sendgrid' && !options.embedSendTime
    ? Array.from({ length: Math.min(options.poolSize ?? 20_000, options.totalRequests ?? 20_000) }, build)
    : [];
let poolIndex = 0;
function nextPayload(): Payload {
  if (pool.length === 0) return build();
  if (options.reusePool) return pool[poolIndex++ % pool.length] as Payload;
  return pool.pop() ?? build();
}

async function run(): Promise<LoadResult> {
  const cpuAtStart = process.cpuUsage();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let totalOk = 0;
  let measuring = false;
  let stop = false;
  let issued = 0;
  const total = options.totalRequests;
  const interval = options.rate ? (1000 * options.concurrency) / options.rate : 0;

  async function worker(offset: number): Promise<void> {
    // Workers start spread over one interval, so a fixed rate is an even stream, not bursts.
    let next = performance.now() + (interval * offset) / options.concurrency;
    while (!stop && (total === undefined || issued < total)) {
      if (interval) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += interval;
      }
      issued++;
      const payload = nextPayload();
      const started = performance.now();
      try {
        const status = await post(payload);
        if (status === 200) totalOk++;
        if (measuring) {
          latencies.push(performance.now() - started);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      } catch {
        if (measuring) errors++;
      }
    }
  }

  let started: number;
  let workers: Promise<void>[];
  let windowStart: number;
  if (total !== undefined) {
    measuring = true;
    windowStart = epochNow();
    started = performance.now();
    workers = Array.from({ length: options.concurrency }, (_, i) => worker(i));
    await Promise.all(workers);
  } else {
    workers = Array.from({ length: options.concurrency }, (_, i) => worker(i));
    await new Promise((r) => setTimeout(r, options.warmupMs));
    measuring = true;
    windowStart = epochNow();
    started = performance.now();
    await new Promise((r) => setTimeout(r, options.durationMs));
  }
  measuring = false;
  const windowEnd = epochNow();
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  agent.destroy();
  const cpu = process.cpuUsage(cpuAtStart);

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
    totalOk,
    window: { start: windowStart, end: windowEnd },
    issued,
    cpuUsPerRequest: Number(((cpu.user + cpu.system) / Math.max(1, issued)).toFixed(1)),
  };
}

process.stdout.write(`${JSON.stringify(await run())}\n`);
