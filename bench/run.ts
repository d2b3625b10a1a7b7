import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './load.js';
import { statsBench } from './stats.js';

/**
 * `npm run bench`: every figure is measured side by side in this one run and reported as a ratio
 * against a baseline from the same run, because absolute numbers on a shared 2-core machine drift.
 * Prints a table and writes bench/results/latest.json.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, '..', '..', 'bench', 'results', 'latest.json');
const quick = process.argv.includes('--quick');
const WARMUP_MS = quick ? 500 : 1500;
const DURATION_MS = quick ? 2000 : 5000;
const CONCURRENCY = 50;
const EVENTS_PER_REQUEST = 5;

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const publicKeyDer = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

interface Target {
  child: ChildProcess;
  url: string;
  admin?: string;
}

async function startTarget(script: string, args: unknown = {}): Promise<Target> {
  const child = spawn(process.execPath, [join(HERE, 'targets', script), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const info = JSON.parse(first) as { url: string; admin?: string };
  return { child, ...info };
}

async function stopTarget(target: Target): Promise<void> {
  const exited = new Promise((resolve) => target.child.once('exit', resolve));
  target.child.kill('SIGTERM');
  await exited;
}

function runLoad(url: string, extra: Partial<LoadOptions> = {}): Promise<LoadResult> {
  const options: LoadOptions = {
    url,
    privateKeyPem,
    concurrency: CONCURRENCY,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    eventsPerRequest: EVENTS_PER_REQUEST,
    ...extra,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(HERE, 'load.js'), JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exited ${code}`)),
    );
  });
}

async function admin<T>(target: Target, method: 'GET' | 'POST', path: string): Promise<T> {
  const res = await fetch(`${target.admin}${path}`, { method });
  return (await res.json()) as T;
}

interface Stats {
  eventLoopDelayMs: { p99: number; max: number };
  writer: { commits: number; rows: number; largestBatch: number };
  pipeline: { rows: number; inserted: number; duplicates: number };
  inbox: { pending: number; processed: number; quarantined: number };
  events: number;
}

async function mailhookScenario(args: Record<string, unknown>, load: Partial<LoadOptions> = {}) {
  const target = await startTarget('mailhook.js', { publicKey: publicKeyDer, ...args });
  try {
    await admin(target, 'POST', '/__bench/reset');
    const result = await runLoad(target.url, load);
    const during = await admin<Stats>(target, 'GET', '/__bench/stats');
    const drain = await admin<{ ms: number }>(target, 'POST', '/__bench/drain');
    const after = await admin<Stats>(target, 'GET', '/__bench/stats');
    return { result, during, drainMs: drain.ms, after };
  } finally {
    await stopTarget(target);
  }
}

function row(name: string, r: LoadResult, baseline: LoadResult | null): string {
  const ratio = baseline ? (r.rps / baseline.rps).toFixed(2) : '1.00';
  return [
    name.padEnd(44),
    String(r.rps).padStart(7),
    String(r.eventsPerSec).padStart(9),
    ratio.padStart(7),
    r.latencyMs.p50.toFixed(1).padStart(7),
    r.latencyMs.p99.toFixed(1).padStart(7),
    r.latencyMs.p999.toFixed(1).padStart(8),
  ].join(' ');
}

console.log(
  `mailhook bench — ${cpus().length} cores, node ${process.version}, concurrency ${CONCURRENCY}, ${EVENTS_PER_REQUEST} events/request, ${DURATION_MS} ms per run${quick ? ' (quick)' : ''}\n`,
);

const floorTarget = await startTarget('floor.js');
const floor = await runLoad(floorTarget.url);
await stopTarget(floorTarget);

const grouped = await mailhookScenario({});
const single = await mailhookScenario({ inboxBatchMax: 1 });
const halfRate = await mailhookScenario({}, { rate: Math.max(100, Math.round(grouped.result.rps / 2)) });
const backlog = await mailhookScenario({ pipeline: false });
const backlogEvents = backlog.after.pipeline.inserted;
const pipelineEventsPerSec = Math.round(backlogEvents / (backlog.drainMs / 1000));

console.log(
  `${'scenario'.padEnd(44)} ${'req/s'.padStart(7)} ${'events/s'.padStart(9)} ${'×floor'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'p99.9 ms'.padStart(8)}`,
);
console.log(row('floor: bare node:http, read body, 200', floor, null));
console.log(row('mailhook SQLite, group commit (default)', grouped.result, floor));
console.log(row('mailhook SQLite, one commit per request', single.result, floor));
console.log(row('mailhook SQLite, group commit, at half max rate', halfRate.result, floor));
console.log(row('mailhook SQLite, group commit, pipeline paused', backlog.result, floor));
console.log('');
console.log(
  `group commit vs one commit per request: ${(grouped.result.rps / single.result.rps).toFixed(2)}× the throughput`,
);
console.log(
  `rows per commit under load (group commit): ${(grouped.during.writer.rows / Math.max(1, grouped.during.writer.commits)).toFixed(1)} on average, ${grouped.during.writer.largestBatch} at most`,
);
console.log(
  `pipeline keeping up during load: ${grouped.during.inbox.pending} rows pending when load stopped, drained in ${grouped.drainMs.toFixed(0)} ms`,
);
console.log(
  `event-loop delay in the server during load (pipeline running): p99 ${grouped.during.eventLoopDelayMs.p99.toFixed(1)} ms, max ${grouped.during.eventLoopDelayMs.max.toFixed(1)} ms`,
);
console.log(
  `pipeline alone over a backlog of ${backlog.after.inbox.processed} rows: ${pipelineEventsPerSec} events/s = ${(pipelineEventsPerSec / grouped.result.eventsPerSec).toFixed(2)}× the ingest rate with group commit`,
);
const unexpected = [grouped, single, halfRate, backlog].filter(
  (s) =>
    s.after.events !== s.result.ok * EVENTS_PER_REQUEST && s.after.events < s.result.ok * EVENTS_PER_REQUEST,
);
if (unexpected.length > 0) console.log('WARNING: fewer events stored than acknowledged in some run');

const statsEvents = quick ? 100_000 : 1_000_000;
console.log(`\nstats over ${statsEvents.toLocaleString('en')} generated events (SQLite), median of 3:`);
const stats = await statsBench(statsEvents);
for (const [groupBy, q] of Object.entries(stats.queries)) {
  console.log(
    `  group_by=${groupBy.padEnd(17)} ${String(q.ms).padStart(6)} ms = ${q.ratioToCount}× a bare COUNT(*) (${stats.baselineCountMs} ms)`,
  );
}

const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cores: cpus().length,
  quick,
  concurrency: CONCURRENCY,
  eventsPerRequest: EVENTS_PER_REQUEST,
  durationMs: DURATION_MS,
  scenarios: {
    floor,
    mailhook_group_commit: grouped.result,
    mailhook_single_commit: single.result,
    mailhook_half_rate: halfRate.result,
    mailhook_pipeline_paused: backlog.result,
  },
  ratios: {
    group_commit_vs_floor: Number((grouped.result.rps / floor.rps).toFixed(3)),
    single_commit_vs_floor: Number((single.result.rps / floor.rps).toFixed(3)),
    group_vs_single_commit: Number((grouped.result.rps / single.result.rps).toFixed(3)),
    pipeline_vs_ingest_events: Number((pipelineEventsPerSec / grouped.result.eventsPerSec).toFixed(3)),
  },
  group_commit: {
    avgRowsPerCommit: grouped.during.writer.rows / Math.max(1, grouped.during.writer.commits),
    largest: grouped.during.writer.largestBatch,
  },
  pipeline: {
    pendingWhenLoadStopped: grouped.during.inbox.pending,
    drainMsAfterLoad: Math.round(grouped.drainMs),
    eventLoopDelayMs: grouped.during.eventLoopDelayMs,
    backlogEventsPerSec: pipelineEventsPerSec,
  },
  stats,
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`\nwrote ${RESULTS}`);
