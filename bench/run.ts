import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type CpuBudget,
  cpuBudget,
  type DeliveredEventBudget,
  deliveredEventBudget,
  printCpuBudget,
  printDeliveredEventBudget,
  printTargetBudget,
  sustainedBudget,
  type TargetBudget,
} from './cpu-budget.js';
import {
  type BacklogRun,
  backlogScenario,
  type DeliveryRun,
  deliveryScenario,
  type EndToEnd,
  endToEndScenario,
} from './delivery.js';
import { type DiskRun, diskScenario, printDisk } from './disk.js';
import {
  INGEST_SCENARIOS,
  type IngestKey,
  type IngestRun,
  type IngestSettings,
  medianResult,
  runIngest,
} from './ingest.js';
import type { LoadResult } from './load.js';
import { createBenchDatabase, postgresAvailable } from './pg.js';
import { HERE, median, runTool, secondsSinceStart } from './procs.js';
import { ingestHeader, ingestRow, judgeTargets, pad, printTargets, ratio } from './report.js';
import { printStats, type StatsBench, statsBench } from './stats.js';
import type { StorageFloor } from './storage-floor.js';

/**
 * `npm run bench`: every figure is measured side by side in this one run and reported as a ratio
 * against a baseline from the same run (the floor, the status quo, raw undici), because absolute
 * numbers on a shared 2-core machine drift. Prints tables and writes bench/results/latest.json.
 * `--quick` is the smoke run (about 1.5 minutes here on 2026-12-07); `--only=ingest,delivery,e2e,backlog,queries,disk`
 * runs sections.
 */
const RESULTS = join(HERE, '..', '..', 'bench', 'results', 'latest.json');
const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const runs = (section: string) => !only || only.includes(section);
const backlogArg = process.argv.find((a) => a.startsWith('--backlog='))?.slice('--backlog='.length);

const settings: IngestSettings = {
  concurrency: 50,
  warmupMs: quick ? 300 : 700,
  durationMs: quick ? 1000 : 2000,
  eventsPerRequest: 5,
};
const ROUNDS = quick ? 1 : 3;
const DELIVERIES = quick ? 1500 : 3000;
const DELIVERY_ROUNDS = quick ? 1 : 2;
const STATS_EVENTS = quick ? 50_000 : 1_000_000;
/** The quick run's backlog (sized on 2026-11-26, when `--quick` with `tsc` took a minute). */
const QUICK_BACKLOG = 30_000;
const BACKLOG_TARGET = 1_000_000;
/** The default run's backlog when the budget leaves less; the quick run's size. */
const BACKLOG_LEAST = QUICK_BACKLOG;
/** The moderate fixed rate of the end-to-end latency run (requests/s, one event each). */
const E2E_RATE = 200;

const benchStarted = performance.now();
const elapsed = () => `${((performance.now() - benchStarted) / 1000).toFixed(0)} s`;
/**
 * Under `npm run bench` the parent is the script's shell, started before `tsc`: the seconds it ran
 * before this process, so the whole run is judged, compilation included.
 */
const sinceScript = process.env.npm_lifecycle_event === 'bench' ? secondsSinceStart(process.ppid) : null;
const compileSeconds = sinceScript === null ? null : Math.max(0, sinceScript - process.uptime());
/**
 * The whole default run, `tsc` before it included (10 s when not known), must end within 5 minutes,
 * with 5 s to spare for the report; the backlog takes what the other sections leave.
 */
const BUDGET_S = Math.round(295 - (compileSeconds ?? 10));
const pg = await postgresAvailable();

console.log(
  `mailhook bench — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GB, node ${process.version}${quick ? ', quick' : ''}`,
);
console.log(
  `ingest: ${settings.concurrency} connections, ${settings.eventsPerRequest} events/request (Postmark: 1), ${settings.warmupMs} ms warm-up + ${settings.durationMs} ms measured; ${ROUNDS} alternating round(s) for the rows the targets are about, 1 for the others`,
);
if (!pg) console.log('PostgreSQL at 127.0.0.1:5432 does not answer: its rows are skipped');

// ------------------------------------------------------------------------------------------------
// Ingest
const ingestRuns = new Map<IngestKey, IngestRun[]>();
const ingest = new Map<IngestKey, LoadResult>();
let budget: CpuBudget | null = null;
let deliveredBudget: DeliveredEventBudget | null = null;
let e2eBudget: TargetBudget | null = null;
if (runs('ingest')) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of INGEST_SCENARIOS) {
      if (!scenario.everyRound && round > 0) continue;
      if (scenario.needsPostgres && !pg) continue;
      const parent = scenario.halfOf ? ingestRuns.get(scenario.halfOf)?.at(-1)?.result.rps : undefined;
      if (scenario.halfOf && parent === undefined) continue;
      const previous = ingestRuns.get(scenario.key)?.at(-1)?.result.rps;
      const run = await runIngest(scenario, settings, (parent ?? 0) / 2, previous);
      ingestRuns.set(scenario.key, [...(ingestRuns.get(scenario.key) ?? []), run]);
    }
  }
  for (const [key, list] of ingestRuns) ingest.set(key, medianResult(list.map((r) => r.result)));
  console.log(`\n${ingestHeader()}`);
  for (const scenario of INGEST_SCENARIOS) {
    const result = ingest.get(scenario.key);
    if (!result) continue;
    const base = scenario.baseline ? ingest.get(scenario.baseline) : undefined;
    const baseline =
      scenario.baseline && base ? { name: `× ${scenario.baseline.replace('_', ' ')}`, rps: base.rps } : null;
    console.log(ingestRow(scenario.label, result, baseline, ingestRuns.get(scenario.key)?.length ?? 0));
  }
  const grouped = ingestRuns.get('sqlite_sendgrid')?.at(-1);
  const single = ingest.get('sqlite_single_commit');
  const sg = ingest.get('sqlite_sendgrid');
  if (grouped?.during && sg && single) {
    console.log(`\ngroup commit vs one commit per request: ${ratio(sg.rps, single.rps)}× the throughput`);
    console.log(
      `rows per commit (group commit, last run): ${(grouped.during.writer.rows / Math.max(1, grouped.during.writer.commits)).toFixed(1)} on average, ${grouped.during.writer.largestBatch} at most; ${grouped.during.inbox.pending} rows pending when load stopped, drained in ${Math.round(grouped.drainMs ?? 0)} ms; server event-loop delay p99 ${grouped.during.eventLoopDelayMs.p99.toFixed(1)} ms`,
    );
  }
  // SQLite alone committing what mailhook's commits held, in groups of the size they had here.
  const postmarkWriter = ingestRuns.get('sqlite_postmark')?.at(-1)?.during?.writer;
  // Without an endpoint for the ingest rows; with one (each event's delivery row) for the end to end.
  const floorOf = (endpoint: boolean) =>
    postmarkWriter
      ? runTool<StorageFloor>('storage-floor.js', {
          posts: quick ? 1500 : 4000,
          group: postmarkWriter.rows / Math.max(1, postmarkWriter.commits),
          endpoint,
        })
      : Promise.resolve(null);
  const storage = await floorOf(false);
  const storageWithEndpoint = await floorOf(true);
  // The same for the SendGrid row's 5-event posts, at its group size.
  const sendGridWriter = grouped?.during?.writer;
  const sendGridStorage = sendGridWriter
    ? await runTool<StorageFloor>('storage-floor.js', {
        posts: quick ? 600 : 1600,
        group: sendGridWriter.rows / Math.max(1, sendGridWriter.commits),
        provider: 'sendgrid',
        eventsPerPost: settings.eventsPerRequest,
      })
    : null;
  budget = cpuBudget({
    floor: ingest.get('floor'),
    statusQuo: ingest.get('status_quo'),
    sqlite: ingest.get('sqlite_sendgrid'),
    postgres: ingest.get('pg_sendgrid'),
    postgresPaused: ingest.get('pg_pipeline_paused'),
    postmark: ingest.get('sqlite_postmark'),
    sqliteThread: grouped?.during?.pipelineThread,
    postmarkThread: ingestRuns.get('sqlite_postmark')?.at(-1)?.during?.pipelineThread,
    storage,
    storageWithEndpoint,
    sendGridStorage,
    postgresProcessingUs: ingestRuns.get('pg_pipeline_paused')?.at(-1)?.drainPostgresCpuUsPerRequest,
  });
  printCpuBudget(budget);
  for (const key of ['sqlite_pipeline_paused', 'pg_pipeline_paused'] as const) {
    const run = ingestRuns.get(key)?.at(-1);
    if (!run?.after || !run.drainMs) continue;
    const perSec = Math.round(run.after.pipeline.inserted / (run.drainMs / 1000));
    console.log(
      `${key.startsWith('pg') ? 'PostgreSQL' : 'SQLite'} pipeline alone over a backlog of ${run.after.inbox.processed} rows: ${perSec} events/s`,
    );
  }
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// Delivery
const deliveryRuns: DeliveryRun[][] = [];
const DELIVERY_SHAPES = [
  { fast: 1, slow: 0, withFloor: true },
  { fast: 10, slow: 0, withFloor: true },
  { fast: 100, slow: 0, withFloor: true },
  { fast: 10, slow: 1, withFloor: false },
];
const deliveryMedian = (i: number, f: (r: DeliveryRun) => number | null) => {
  const values = deliveryRuns.map((round) => round[i]).flatMap((r) => (r ? [f(r)] : []));
  const numbers = values.filter((v): v is number => v !== null);
  return numbers.length ? Math.round(median(numbers)) : null;
};
if (runs('delivery')) {
  for (let round = 0; round < DELIVERY_ROUNDS; round++) {
    const results: DeliveryRun[] = [];
    for (const shape of DELIVERY_SHAPES) {
      results.push(await deliveryScenario({ ...shape, deliveries: DELIVERIES, timeoutMs: 60_000 }));
    }
    deliveryRuns.push(results);
  }
  console.log(
    `\n${pad('delivery (deliveries/s at the receiver)', 50, true)} ${pad('mailhook', 9)} ${pad('floor', 7)} ${pad('ratio', 6)} ${pad('in flight', 10)} ${pad('runs', 5)}`,
  );
  DELIVERY_SHAPES.forEach((shape, i) => {
    const first = deliveryRuns[0]?.[i] as DeliveryRun;
    const label =
      shape.slow > 0
        ? `${shape.fast} fast endpoints + 1 answering after 2 s (fast ones)`
        : `${shape.fast} endpoint${shape.fast > 1 ? 's' : ''}, ${first.deliveries.toLocaleString('en')} deliveries`;
    const m = deliveryMedian(i, (r) => r.mailhook) ?? 0;
    const f = deliveryMedian(i, (r) => r.floor);
    const incomplete = deliveryRuns.some((round) => round[i] && !round[i]?.complete) ? ' (incomplete)' : '';
    console.log(
      `${pad(label, 50, true)} ${pad(m, 9)} ${pad(f ?? '—', 7)} ${pad(ratio(m, f)?.toFixed(2) ?? '—', 6)} ${pad(first.floorConcurrency, 10)} ${pad(deliveryRuns.length, 5)}${incomplete}`,
    );
  });
  const without = deliveryMedian(1, (r) => r.mailhook);
  const withSlow = deliveryMedian(3, (r) => r.mailhook);
  console.log(
    `fast endpoints with a 2 s endpoint beside them: ${ratio(withSlow ?? 0, without)}× their rate without it`,
  );
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// End to end
const cpuSum = (c: { server: number; postgres: number; receiver: number; generator: number }) =>
  c.server + c.postgres + c.receiver + c.generator;
const e2e: EndToEnd[] = [];
if (runs('e2e')) {
  const timing = {
    warmupMs: quick ? 300 : 700,
    durationMs: quick ? 1500 : 3000,
    catchUpMs: quick ? 10_000 : 20_000,
  };
  e2e.push(await endToEndScenario({ rate: E2E_RATE, sustained: true, check: !quick, ...timing }));
  if (pg && !quick) {
    const db = await createBenchDatabase('e2e');
    try {
      e2e.push(
        await endToEndScenario({
          rate: E2E_RATE,
          sustained: false,
          check: false,
          databaseUrl: db.url,
          ...timing,
        }),
      );
    } finally {
      await db.drop();
    }
  }
  const floorRps = ingest.get('floor')?.rps;
  for (const run of e2e) {
    const f = run.fixedRate;
    console.log(
      `\nend to end (${run.store}) at ${f.rps} req/s, 1 event each, 1 endpoint: ingest → delivered p50 ${f.latencyMs.p50} ms, p99 ${f.latencyMs.p99} ms, max ${f.latencyMs.max} ms (${f.delivered}/${f.events} delivered; with the warm-up's events p50 ${f.withWarmUpMs.p50} ms, p99 ${f.withWarmUpMs.p99} ms); ack p99 ${f.ackP99Ms} ms`,
    );
    const s = run.sustained;
    if (!s) continue;
    console.log(
      `end to end (${run.store}) at full load, single-event Postmark posts: ingest ${s.ingestEventsPerSec}/s, delivered ${s.deliveredPerSec}/s in the same window (backlog grew ${s.backlogGrowthPerSec}/s, caught up ${s.catchUpSeconds ?? 'not'} s after); latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms; pipeline thread busy ${Math.round(s.pipelineBusy * 100)}%`,
    );
    for (const check of s.checks ?? []) {
      console.log(
        `  paced at ${check.rate}/s: delivered ${check.deliveredPerSec}/s, backlog grew ${check.backlogGrowthPerSec}/s, latency p50 ${check.latencyP50Ms} ms; pipeline thread busy ${Math.round(check.pipelineBusy * 100)}%, CPU per event: mailhook ${check.cpuUsPerEvent.server}, all processes ${cpuSum(check.cpuUsPerEvent)} µs = ${((check.rate * cpuSum(check.cpuUsPerEvent)) / 1e6).toFixed(2)} cores`,
      );
    }
    console.log(
      s.flat
        ? `  sustained with no growing backlog: ${s.sustainedPerSec} events/s = ${ratio(s.sustainedPerSec, floorRps) ?? '—'}× floor req/s`
        : `  no rate without a growing backlog was seen; at most ${s.sustainedPerSec} events/s delivered = ${ratio(s.sustainedPerSec, floorRps) ?? '—'}× floor req/s`,
    );
    const c = s.cpuUsPerEvent;
    const cores = cpus().length;
    console.log(
      `  CPU per event, ingest to delivered: mailhook ${c.server}${c.postgres ? ` + PostgreSQL ${c.postgres}` : ''} + receiver ${c.receiver} + generator ${c.generator} µs = ${cpuSum(c)} µs → at most ${Math.round((cores * 1e6) / Math.max(1, cpuSum(c)))}/s on ${cores} cores`,
    );
  }
  const sqliteRun = e2e[0]?.sustained;
  // The least a POST cost a client in this run: the delivery floor's at one endpoint (the end-to-end
  // shape) or the load generator's at the floor's rate.
  const posts = [deliveryMedian(0, (r) => r.floorCpuUs), budget?.floor?.generatorUs ?? null];
  const known = posts.filter((us): us is number => us !== null && us > 0);
  const sendingUs = known.length ? Math.round(Math.min(...known)) : null;
  if (budget && sqliteRun && floorRps) {
    e2eBudget = sustainedBudget(budget, floorRps, sendingUs, sqliteRun.cpuUsPerEvent);
    if (e2eBudget) printTargetBudget(e2eBudget, 'event');
  }
  deliveredBudget =
    budget && sqliteRun ? deliveredEventBudget(budget, sqliteRun.cpuUsPerEvent.server, sendingUs) : null;
  if (deliveredBudget) printDeliveredEventBudget(deliveredBudget);
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// Queries
let stats: StatsBench | null = null;
if (runs('queries')) {
  stats = await statsBench(STATS_EVENTS, pg);
  printStats(stats);
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// Disk per event: single-event posts, no endpoint, both stores
let disk: DiskRun[] = [];
if (runs('disk')) {
  disk = await diskScenario({ posts: quick ? 5000 : 20_000, postgres: pg });
  printDisk(disk);
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// Backlog, last: it takes whatever the budget leaves, up to 1,000,000 events.
let backlog: BacklogRun | null = null;
let backlogWhy = '';
if (runs('backlog')) {
  // Seconds per event: ingest + pipeline (measured with the pipeline paused, then draining) and
  // delivery to one endpoint (the delivery section's median); defaults where a section was skipped.
  const drainRate = deliveryMedian(0, (r) => r.mailhook) ?? 1000;
  const fillRate = 8000;
  const perEvent = 1 / fillRate + 1 / drainRate;
  const leftS = BUDGET_S - (performance.now() - benchStarted) / 1000 - 10;
  const fits = Math.floor(leftS / perEvent / 10_000) * 10_000;
  const events = backlogArg
    ? Number(backlogArg)
    : quick
      ? QUICK_BACKLOG
      : Math.max(BACKLOG_LEAST, Math.min(BACKLOG_TARGET, fits));
  backlogWhy = backlogArg
    ? 'set with --backlog'
    : quick
      ? `the quick run uses ${QUICK_BACKLOG.toLocaleString('en')}`
      : events < BACKLOG_TARGET
        ? `1,000,000 would take about ${Math.round(BACKLOG_TARGET * perEvent)} s at ${drainRate} deliveries/s; ${Math.round(leftS)} s of the ${BUDGET_S} s budget were left`
        : 'fits the budget';
  backlog = await backlogScenario({ events, timeoutMs: Math.max(60_000, leftS * 2000) });
  console.log(
    `\nbacklog of ${backlog.events.toLocaleString('en')} events (${backlogWhy}), endpoint paused, 10 events/request: ingested in ${backlog.ingestSeconds} s, pipeline done at ${backlog.pipelineSeconds} s; after resume drained at ${backlog.drainRate} deliveries/s in ${backlog.drainSeconds} s${backlog.complete ? '' : ' (DID NOT FINISH)'}; mailhook RSS idle ${backlog.rssMb.idle} MB, peak ${backlog.rssMb.peak} MB (VmHWM ${backlog.rssMb.hwm} MB)`,
  );
  console.log(`[${elapsed()}]`);
}

// ------------------------------------------------------------------------------------------------
// Targets
const floorRps = ingest.get('floor')?.rps ?? null;
const sqlite = ingest.get('sqlite_sendgrid');
const pgSg = ingest.get('pg_sendgrid');
const statusQuo = ingest.get('status_quo');
const targets = judgeTargets({
  sqliteVsFloor: sqlite && floorRps ? ratio(sqlite.rps, floorRps) : null,
  pgVsStatusQuo: pgSg && statusQuo ? ratio(pgSg.rps, statusQuo.rps) : null,
  halfRateP99: ingest.get('sqlite_half_rate')?.latencyMs.p99 ?? null,
  pgHalfRateP99: ingest.get('pg_half_rate')?.latencyMs.p99 ?? null,
  delivery1VsFloor: deliveryRuns.length
    ? ratio(
        deliveryMedian(0, (r) => r.mailhook) ?? 0,
        deliveryMedian(0, (r) => r.floor),
      )
    : null,
  delivery100VsFloor: deliveryRuns.length
    ? ratio(
        deliveryMedian(2, (r) => r.mailhook) ?? 0,
        deliveryMedian(2, (r) => r.floor),
      )
    : null,
  slowEffect: deliveryRuns.length
    ? ratio(
        deliveryMedian(3, (r) => r.mailhook) ?? 0,
        deliveryMedian(1, (r) => r.mailhook),
      )
    : null,
  e2eVsFloor: e2e[0]?.sustained && floorRps ? ratio(e2e[0].sustained.sustainedPerSec, floorRps) : null,
  sustainedBudget: e2eBudget,
  e2eP50: e2e[0]?.fixedRate.latencyMs.p50 ?? null,
  e2eP50Postgres: e2e[1]?.fixedRate.latencyMs.p50 ?? null,
  backlog: backlog
    ? { events: backlog.events, peakMb: backlog.rssMb.peak, complete: backlog.complete }
    : null,
  sqliteBytesPerEvent: disk.find((d) => d.store === 'sqlite')?.bytesPerEvent ?? null,
  postmarkVsFloor:
    ingest.get('sqlite_postmark') && floorRps
      ? ratio(ingest.get('sqlite_postmark')?.rps ?? 0, floorRps)
      : null,
  postmarkBudget: budget?.sqlitePostmark ?? null,
  sqliteBudget: budget?.sqlite ?? null,
  pgBudget: budget?.postgres ?? null,
  deliveredBudget,
  runSeconds:
    quick || only || compileSeconds === null
      ? null
      : Math.round(compileSeconds + (performance.now() - benchStarted) / 1000),
});
console.log('\ntargets of issues 7 and 16 (ratio = mailhook / baseline, same run):');
printTargets(targets);
console.log(`\ntotal ${elapsed()}`);

const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? null,
  quick,
  seconds: Math.round((performance.now() - benchStarted) / 1000),
  compileSeconds: compileSeconds === null ? null : Math.round(compileSeconds),
  settings: { ...settings, rounds: ROUNDS, deliveryRounds: DELIVERY_ROUNDS },
  ingest: Object.fromEntries(
    [...ingest].map(([key, result]) => [
      key,
      { ...result, runs: ingestRuns.get(key)?.map((r) => r.result.rps) },
    ]),
  ),
  cpuBudget: budget,
  deliveredEventBudget: deliveredBudget,
  sustainedBudget: e2eBudget,
  ingestDetail: {
    sqliteGroupCommit: ingestRuns.get('sqlite_sendgrid')?.at(-1)?.during ?? null,
    pipelinePausedDrainMs: ingestRuns.get('sqlite_pipeline_paused')?.at(-1)?.drainMs ?? null,
  },
  delivery: DELIVERY_SHAPES.map((shape, i) => ({
    ...shape,
    mailhook: deliveryMedian(i, (r) => r.mailhook),
    floor: deliveryMedian(i, (r) => r.floor),
    ratio: ratio(
      deliveryMedian(i, (r) => r.mailhook) ?? 0,
      deliveryMedian(i, (r) => r.floor),
    ),
    runs: deliveryRuns.map((round) => round[i]),
  })),
  endToEnd: e2e,
  backlog: backlog && { ...backlog, why: backlogWhy },
  queries: stats,
  disk,
  targets,
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${RESULTS}`);
