import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The webhook receiver for the delivery scenarios, in its own process: `fast` node:http servers that
 * answer 200 at once and `slow` ones that answer 200 after `slowMs`. Each listens on a port of its
 * own, so every endpoint is its own origin (its own keep-alive pool in the sender), as separate
 * services are. It counts what arrives and, when told to, reads `data.metadata.bench_sent_at` from
 * each delivered event to measure ingest → delivered. A control server answers:
 * `POST /reset?latency=1` and `GET /stats`. Options as JSON in argv[2].
 */
interface Options {
  fast: number;
  slow?: number;
  slowMs?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const epochNow = () => performance.timeOrigin + performance.now();

let arrivals: number[] = [];
let slowCount = 0;
/** Ingest → arrival of each event, with the time it was sent (to leave out the load's warm-up). */
let latencies: Array<{ sentAt: number; ms: number }> = [];
let measureLatency = false;
let badLatency = 0;

function record(body: string): void {
  arrivals.push(epochNow());
  if (!measureLatency) return;
  try {
    const sentAt = (JSON.parse(body) as { data?: { metadata?: { bench_sent_at?: unknown } } }).data?.metadata
      ?.bench_sent_at;
    // A number from SendGrid's custom args, a string from Postmark's metadata.
    const at = typeof sentAt === 'string' ? Number(sentAt) : sentAt;
    if (typeof at === 'number' && Number.isFinite(at)) latencies.push({ sentAt: at, ms: epochNow() - at });
    else badLatency++;
  } catch {
    badLatency++;
  }
}

function handler(slow: boolean) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      };
      if (slow) {
        slowCount++;
        setTimeout(answer, options.slowMs ?? 2000);
        return;
      }
      record(measureLatency ? Buffer.concat(chunks).toString('utf8') : '');
      answer();
    });
  };
}

async function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** Arrivals per second between the 10th and the 90th percentile arrival: ramp-up and tail left out. */
function steadyRate(times: number[]): number {
  if (times.length < 10) return 0;
  const a = Math.floor(times.length * 0.1);
  const b = Math.floor(times.length * 0.9);
  const span = ((times[b] ?? 0) - (times[a] ?? 0)) / 1000;
  return span > 0 ? Math.round((b - a) / span) : 0;
}

/** Index of the first arrival at or after `t` (arrivals are in time order). */
function firstAtOrAfter(t: number): number {
  let lo = 0;
  let hi = arrivals.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((arrivals[mid] ?? 0) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const fastPorts = await Promise.all(
  Array.from({ length: options.fast }, () => listen(createServer(handler(false)))),
);
const slowPorts = await Promise.all(
  Array.from({ length: options.slow ?? 0 }, () => listen(createServer(handler(true)))),
);

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  let body: unknown = {};
  if (url.pathname === '/reset') {
    arrivals = [];
    latencies = [];
    slowCount = 0;
    badLatency = 0;
    measureLatency = url.searchParams.get('latency') === '1';
  } else if (url.pathname === '/stats') {
    const sentSince = Number(url.searchParams.get('sentSince') ?? 0);
    const sorted = latencies
      .filter((latency) => latency.sentAt >= sentSince)
      .map((latency) => latency.ms)
      .sort((x, y) => x - y);
    const first = arrivals[0] ?? 0;
    const last = arrivals.at(-1) ?? 0;
    const since = Number(url.searchParams.get('since') ?? 0);
    const until = Number(url.searchParams.get('until') ?? 0) || Number.POSITIVE_INFINITY;
    body = {
      count: arrivals.length,
      slowCount,
      firstAt: first,
      lastAt: last,
      steadyRate: steadyRate(arrivals),
      /** Arrivals in [since, until) (epoch ms): the deliveries inside a measuring window. */
      countSince: firstAtOrAfter(until) - firstAtOrAfter(since),
      latencyMs: {
        count: sorted.length,
        missing: badLatency,
        p50: Number(quantile(sorted, 0.5).toFixed(2)),
        p99: Number(quantile(sorted, 0.99).toFixed(2)),
        max: Number((sorted.at(-1) ?? 0).toFixed(2)),
      },
    };
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});
const controlPort = await listen(control);

process.stdout.write(
  `${JSON.stringify({
    url: `http://127.0.0.1:${controlPort}`,
    fast: fastPorts.map((p) => `http://127.0.0.1:${p}/hook`),
    slow: slowPorts.map((p) => `http://127.0.0.1:${p}/hook`),
  })}\n`,
);
process.on('SIGTERM', () => process.exit(0));
