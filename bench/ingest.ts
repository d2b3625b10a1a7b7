import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { LoadOptions, LoadResult } from './load.js';
import { createBenchDatabase } from './pg.js';
import {
  cpuMeter,
  median,
  postgresCpuMeter,
  runTool,
  startTarget,
  stopTarget,
  type Target,
  writeMeter,
} from './procs.js';

/**
 * Ingest scenarios: one target process and one load-generator process each, the same load shape for
 * all (fixed concurrency, warm-up, fresh ids), run in alternating rounds and reduced to medians.
 */
export interface IngestSettings {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  eventsPerRequest: number;
}

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
export const keys = {
  publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  basicAuth: `postmark-bench:${randomBytes(12).toString('hex')}`,
  hmacSecret: randomBytes(32).toString('hex'),
};

export interface MailhookStats {
  eventLoopDelayMs: { p99: number; max: number };
  writer: { commits: number; rows: number; largestBatch: number };
  /** The pipeline thread since the reset: its busy share, and busy µs per ingest row committed. */
  pipelineThread: { busy: number; busyUsPerPost: number } | null;
  pipeline: { rows: number; inserted: number; duplicates: number };
  inbox: { pending: number; processed: number; quarantined: number };
  events: number;
}

export interface IngestRun {
  result: LoadResult;
  /** mailhook targets only. */
  during?: MailhookStats;
  after?: MailhookStats;
  drainMs?: number;
  /**
   * PostgreSQL targets: the database's CPU while the pipeline drained what the load left, per
   * request drained (with the pipeline paused, that is every request's events: their processing).
   */
  drainPostgresCpuUsPerRequest?: number;
}

export type IngestKey =
  | 'floor'
  | 'status_quo'
  | 'sqlite_sendgrid'
  | 'sqlite_single_commit'
  | 'sqlite_half_rate'
  | 'sqlite_pipeline_paused'
  | 'sqlite_postmark'
  | 'pg_sendgrid'
  | 'pg_postmark'
  | 'pg_half_rate'
  | 'pg_pipeline_paused';

export interface IngestScenario {
  key: IngestKey;
  label: string;
  /** The baseline its ratio is printed against. */
  baseline: 'floor' | 'status_quo' | null;
  /** Run in every round (the rows the targets are about) or once. */
  everyRound: boolean;
  needsPostgres: boolean;
  /** Half-rate rows pace themselves at half of this row's rate in the same round. */
  halfOf?: IngestKey;
}

export const INGEST_SCENARIOS: IngestScenario[] = [
  {
    key: 'floor',
    label: 'floor: bare node:http, read body, 200',
    baseline: null,
    everyRound: true,
    needsPostgres: false,
  },
  {
    key: 'status_quo',
    label: 'status quo: Express 5 + HMAC + pg INSERT/request',
    baseline: 'floor',
    everyRound: true,
    needsPostgres: true,
  },
  {
    key: 'sqlite_sendgrid',
    label: 'mailhook SQLite, SendGrid, group commit',
    baseline: 'floor',
    everyRound: true,
    needsPostgres: false,
  },
  {
    key: 'sqlite_half_rate',
    label: 'mailhook SQLite, SendGrid, at half max rate',
    baseline: 'floor',
    everyRound: true,
    needsPostgres: false,
    halfOf: 'sqlite_sendgrid',
  },
  {
    key: 'pg_sendgrid',
    label: 'mailhook PostgreSQL, SendGrid, group commit',
    baseline: 'status_quo',
    everyRound: true,
    needsPostgres: true,
  },
  {
    key: 'sqlite_single_commit',
    label: 'mailhook SQLite, one commit per request',
    baseline: 'floor',
    everyRound: false,
    needsPostgres: false,
  },
  {
    key: 'sqlite_pipeline_paused',
    label: 'mailhook SQLite, pipeline paused',
    baseline: 'floor',
    everyRound: false,
    needsPostgres: false,
  },
  {
    key: 'sqlite_postmark',
    label: 'mailhook SQLite, Postmark 1 event/POST',
    baseline: 'floor',
    everyRound: false,
    needsPostgres: false,
  },
  {
    key: 'pg_postmark',
    label: 'mailhook PostgreSQL, Postmark 1 event/POST',
    baseline: 'status_quo',
    everyRound: false,
    needsPostgres: true,
  },
  {
    key: 'pg_half_rate',
    label: 'mailhook PostgreSQL, SendGrid, at half max rate',
    baseline: 'status_quo',
    everyRound: false,
    needsPostgres: true,
    halfOf: 'pg_sendgrid',
  },
  {
    // What the status quo does (store the request, no processing), so the closest like-for-like.
    key: 'pg_pipeline_paused',
    label: 'mailhook PostgreSQL, pipeline paused',
    baseline: 'status_quo',
    everyRound: false,
    needsPostgres: true,
  },
];

async function admin<T>(target: Target, method: 'GET' | 'POST', path: string): Promise<T> {
  const res = await fetch(`${target.admin}${path}`, { method });
  return (await res.json()) as T;
}

/** The load against a target, with the target's CPU per request over the same interval. */
async function measuredLoad(
  target: Target,
  settings: IngestSettings,
  extra: Partial<LoadOptions>,
  postgres: boolean,
): Promise<LoadResult> {
  const cpu = cpuMeter(target.pid);
  const database = postgresCpuMeter();
  const writes = writeMeter(target.pid, postgres);
  const result = await runLoad(target.url, settings, extra);
  const used = cpu.stop();
  const written = writes.stop();
  const perRequest = (ms: number) => Number(((ms * 1000) / Math.max(1, result.issued)).toFixed(1));
  return {
    ...result,
    serverCpuUsPerRequest: perRequest(used),
    postgresCpuUsPerRequest: perRequest(database.stop()),
    writtenBytesPerRequest: Math.round(written / Math.max(1, result.issued)),
  };
}

function runLoad(url: string, settings: IngestSettings, extra: Partial<LoadOptions>): Promise<LoadResult> {
  const options: LoadOptions = {
    url,
    privateKeyPem: keys.privateKeyPem,
    concurrency: settings.concurrency,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    eventsPerRequest: settings.eventsPerRequest,
    // Enough pre-signed bodies for ~10k req/s over warm-up and run (beyond that, signed inline): an
    // ECDSA signature per request would take CPU from the target on the same two cores.
    poolSize: Math.ceil(((settings.warmupMs + settings.durationMs) / 1000) * 10_000),
    ...extra,
  };
  return runTool<LoadResult>('load.js', options);
}

async function mailhookRun(
  settings: IngestSettings,
  args: Record<string, unknown>,
  load: Partial<LoadOptions>,
): Promise<IngestRun> {
  const target = await startTarget('mailhook.js', {
    publicKey: keys.publicKeyDer,
    basicAuth: keys.basicAuth,
    ...args,
  });
  try {
    await admin(target, 'POST', '/__bench/reset');
    const result = await measuredLoad(target, settings, load, args.databaseUrl !== undefined);
    const during = await admin<MailhookStats>(target, 'GET', '/__bench/stats');
    const database = args.databaseUrl !== undefined ? postgresCpuMeter() : null;
    const drain = await admin<{ ms: number }>(target, 'POST', '/__bench/drain');
    const drainedPgMs = database?.stop();
    const after = await admin<MailhookStats>(target, 'GET', '/__bench/stats');
    const drained = after.inbox.processed - during.inbox.processed;
    return {
      result,
      during,
      drainMs: drain.ms,
      after,
      ...(drainedPgMs !== undefined &&
        drained > 0 && {
          drainPostgresCpuUsPerRequest: Number(((drainedPgMs * 1000) / drained).toFixed(1)),
        }),
    };
  } finally {
    await stopTarget(target);
  }
}

/**
 * One run of one scenario; `halfRate` is the rate a half-rate row paces itself at, `previousRps` the
 * rate this scenario reached in the round before, if any.
 */
export async function runIngest(
  scenario: IngestScenario,
  settings: IngestSettings,
  halfRate: number,
  previousRps?: number,
): Promise<IngestRun> {
  const postmark: Partial<LoadOptions> = { mode: 'postmark', basicAuth: keys.basicAuth, eventsPerRequest: 1 };
  // The generator signs its pool of SendGrid bodies before it starts, about a second for the default
  // 20,000+: sized to what the run can send, that second goes to the other runs. Twice the rate of
  // the round before leaves room for a faster round; a pool that runs dry is topped up as it goes.
  const seconds = (settings.warmupMs + settings.durationMs) / 1000;
  const poolFor = (rps: number): Partial<LoadOptions> => ({ poolSize: Math.ceil(rps * seconds) + 100 });
  const pacedRate = Math.max(100, Math.round(halfRate));
  const paced: Partial<LoadOptions> = { rate: pacedRate, ...poolFor(1.2 * pacedRate) };
  const unpaced: Partial<LoadOptions> = previousRps ? poolFor(2 * previousRps) : {};
  switch (scenario.key) {
    case 'floor': {
      const target = await startTarget('floor.js');
      try {
        // The floor never dedups, so cycling the pre-signed pool keeps the generator from being the limit.
        return { result: await measuredLoad(target, settings, { reusePool: true, poolSize: 5000 }, false) };
      } finally {
        await stopTarget(target);
      }
    }
    case 'status_quo': {
      const db = await createBenchDatabase('sq');
      try {
        const target = await startTarget('status-quo.js', {
          databaseUrl: db.url,
          hmacSecret: keys.hmacSecret,
        });
        try {
          return {
            result: await measuredLoad(target, settings, { mode: 'hmac', hmacSecret: keys.hmacSecret }, true),
          };
        } finally {
          await stopTarget(target);
        }
      } finally {
        await db.drop();
      }
    }
    case 'sqlite_sendgrid':
      return mailhookRun(settings, {}, unpaced);
    case 'sqlite_single_commit':
      return mailhookRun(settings, { inboxBatchMax: 1 }, {});
    case 'sqlite_half_rate':
      return mailhookRun(settings, {}, paced);
    case 'sqlite_pipeline_paused':
      return mailhookRun(settings, { pipeline: false }, {});
    case 'sqlite_postmark':
      return mailhookRun(settings, { provider: 'postmark' }, postmark);
    case 'pg_sendgrid':
    case 'pg_postmark':
    case 'pg_half_rate':
    case 'pg_pipeline_paused': {
      const db = await createBenchDatabase('mh');
      try {
        const provider = scenario.key === 'pg_postmark' ? 'postmark' : 'sendgrid';
        const load =
          scenario.key === 'pg_postmark' ? postmark : scenario.key === 'pg_half_rate' ? paced : unpaced;
        const pipeline = scenario.key !== 'pg_pipeline_paused';
        return await mailhookRun(settings, { databaseUrl: db.url, provider, pipeline }, load);
      } finally {
        await db.drop();
      }
    }
  }
}

function medianOfFinite(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length > 0 ? Math.round(median(finite)) : Number.NaN;
}

/** Medians over runs, metric by metric (each median comes from the same set of runs). */
export function medianResult(runs: LoadResult[]): LoadResult {
  const first = runs[0] as LoadResult;
  if (runs.length === 1) return first;
  const m = (f: (r: LoadResult) => number) => Number(median(runs.map(f)).toFixed(2));
  return {
    ...first,
    requests: Math.round(m((r) => r.requests)),
    ok: Math.round(m((r) => r.ok)),
    errors: Math.round(m((r) => r.errors)),
    rps: Math.round(m((r) => r.rps)),
    eventsPerSec: Math.round(m((r) => r.eventsPerSec)),
    latencyMs: {
      p50: m((r) => r.latencyMs.p50),
      p99: m((r) => r.latencyMs.p99),
      p999: m((r) => r.latencyMs.p999),
    },
    cpuUsPerRequest: m((r) => r.cpuUsPerRequest),
    serverCpuUsPerRequest: m((r) => r.serverCpuUsPerRequest ?? Number.NaN),
    postgresCpuUsPerRequest: m((r) => r.postgresCpuUsPerRequest ?? Number.NaN),
    // Over the runs that could read every process (NaN, sorted, would put the median anywhere).
    writtenBytesPerRequest: medianOfFinite(runs.map((r) => r.writtenBytesPerRequest ?? Number.NaN)),
  };
}
