import { createHmac, generateKeyPairSync, sign, verify } from 'node:crypto';
import { cpus } from 'node:os';
import type { LoadResult } from './load.js';
import { median } from './procs.js';
import type { StorageFloor } from './storage-floor.js';

/**
 * The load generator, mailhook and PostgreSQL share two cores, so a ratio target can be checked
 * against arithmetic: the CPU one request needs (generator + server + database, measured per request
 * in the same run) times the target rate, against the cores there are. Where even the parts no
 * implementation avoids (the generator, the provider's signature check, a bare HTTP server) exceed the
 * cores at the target rate, the target is out of reach on this machine whatever mailhook does. Fitting
 * in the cores is necessary, not sufficient: a SQLite row can be bound by its one writer's turn with
 * cores to spare, which the pipeline thread's busy share shows (`writerThread`).
 */
export interface CpuBudget {
  cores: number;
  /** Measured in this process, median of 3 × 2,000. */
  ecdsaVerifyUs: number;
  hmacUs: number;
  floor: { serverUs: number; generatorUs: number; ceilingRps: number; measuredRps: number } | null;
  sqlite: TargetBudget | null;
  postgres: TargetBudget | null;
  /** Issue 16's: single-event Postmark posts on SQLite at 0.5× the floor (storage floor included). */
  sqlitePostmark: TargetBudget | null;
  /** SQLite committing mailhook's rows and nothing else (storage-floor.ts), this run. */
  storage: StorageFloor | null;
  /** The same with one endpoint, so each event's delivery row is written too. */
  storageWithEndpoint: StorageFloor | null;
  /** The same for the SendGrid row's posts of several events. */
  sendGridStorage: StorageFloor | null;
}

export interface TargetBudget {
  target: string;
  targetRps: number;
  /**
   * µs per request no implementation avoids, and the cores they need at the target rate. The
   * generator's share is the floor row's (pre-signed SendGrid bodies at the floor's high rate, where
   * it costs least per request): a lower bound for the Postmark row's generator too.
   */
  unavoidable: Record<string, number>;
  unavoidableCores: number;
  /** What mailhook's row used per request in this run (server + database + generator). */
  mailhookUs: number;
  mailhookCores: number;
  /**
   * µs per request the cores leave at the target rate once the unavoidable parts are paid: all of
   * mailhook's own work must fit in it. Negative: out of reach on this machine.
   */
  leftUs: number;
  /**
   * What mailhook's own work took per request in this run: its server's CPU (and PostgreSQL's) less
   * the unavoidable server-side parts; the generator is left out on both sides.
   */
  ownUs: number;
  /**
   * With the storage floor: the most posts per second one SQLite writer takes running the commit's
   * statements alone (their wall time, fsync waits included, at the group size of this run).
   */
  oneWriterRps?: number;
  /**
   * SQLite rows: the pipeline thread (the one writer) in the row's last run, its busy share and its
   * busy time per post (a commit's own fsync included: the ingest rows have no endpoint, so their
   * commits sync themselves), against what the target rate leaves it.
   * Near a busy share of 1, that thread's turn bounds the row, whatever the cores could do.
   */
  writerThread?: { busy: number; busyUsPerPost: number; allowedUsPerPost: number };
}

/** The pipeline thread's figures a SQLite row's target reports (bench/targets/mailhook.ts). */
export interface PipelineThreadFigures {
  busy: number;
  busyUsPerPost: number;
}

const sum = (parts: Record<string, number>) => Object.values(parts).reduce((a, v) => a + v, 0);

function timeUs(work: () => void, iterations = 2000): number {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const started = performance.now();
    for (let i = 0; i < iterations; i++) work();
    runs.push(((performance.now() - started) * 1000) / iterations);
  }
  return Number(median(runs).toFixed(1));
}

export function cryptoCosts(): { ecdsaVerifyUs: number; hmacUs: number } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const body = Buffer.alloc(1200, 'x');
  const signature = sign('sha256', body, privateKey);
  return {
    ecdsaVerifyUs: timeUs(() => verify('sha256', body, publicKey, signature)),
    hmacUs: timeUs(() => createHmac('sha256', 'secret').update(body).digest('hex')),
  };
}

const us = (r: LoadResult | undefined, f: (r: LoadResult) => number | undefined) => {
  const value = r ? f(r) : undefined;
  return value !== undefined && Number.isFinite(value) ? value : 0;
};

export function cpuBudget(rows: {
  floor?: LoadResult;
  statusQuo?: LoadResult;
  sqlite?: LoadResult;
  postgres?: LoadResult;
  postgresPaused?: LoadResult;
  postmark?: LoadResult;
  /** The pipeline thread in the last run of the SQLite SendGrid row and of the Postmark row. */
  sqliteThread?: PipelineThreadFigures | null;
  postmarkThread?: PipelineThreadFigures | null;
  storage?: StorageFloor | null;
  storageWithEndpoint?: StorageFloor | null;
  sendGridStorage?: StorageFloor | null;
  /**
   * PostgreSQL's CPU per request while the pipeline processed what a paused pipeline left (ingest.ts):
   * its statements for the request's events in the largest batches it makes. Not a floor of every
   * design (processing in the ingest commit would skip the row's claim and mark), but what storing
   * these events with these statements costs the database.
   */
  postgresProcessingUs?: number;
}): CpuBudget {
  const cores = cpus().length;
  const { ecdsaVerifyUs, hmacUs } = cryptoCosts();
  const { floor, statusQuo, sqlite, postgres, postgresPaused, postmark } = rows;
  const storage = rows.storage ?? null;
  const storageWithEndpoint = rows.storageWithEndpoint ?? null;
  const sendGridStorage = rows.sendGridStorage ?? null;
  const floorServer = us(floor, (r) => r.serverCpuUsPerRequest);
  const floorGenerator = us(floor, (r) => r.cpuUsPerRequest);
  const total = (r: LoadResult) =>
    us(r, (x) => x.serverCpuUsPerRequest) +
    us(r, (x) => x.postgresCpuUsPerRequest) +
    us(r, (x) => x.cpuUsPerRequest);
  const budget = (
    target: string,
    targetRps: number,
    row: LoadResult,
    unavoidable: Record<string, number>,
  ): TargetBudget => {
    const unavoidableUs = sum(unavoidable);
    // The row's own generator is not mailhook's work, whatever it cost beside the floor's.
    const serverSide = unavoidableUs - (unavoidable.generator ?? 0);
    const ownUs =
      us(row, (x) => x.serverCpuUsPerRequest) + us(row, (x) => x.postgresCpuUsPerRequest) - serverSide;
    return {
      target,
      targetRps: Math.round(targetRps),
      unavoidable,
      unavoidableCores: Number(((targetRps * unavoidableUs) / 1e6).toFixed(2)),
      mailhookUs: Math.round(total(row)),
      mailhookCores: Number(((targetRps * total(row)) / 1e6).toFixed(2)),
      leftUs: Math.round((cores * 1e6) / targetRps - unavoidableUs),
      ownUs: Math.round(ownUs),
    };
  };
  // A SQLite row's: with its storage floor, SQLite running the commit's statements is one of the
  // unavoidable parts, and one writer's rate at that group size goes with it.
  const sqliteBudget = (
    target: string,
    targetRps: number,
    row: LoadResult,
    unavoidable: Record<string, number>,
    floorRun: StorageFloor | null,
    thread: PipelineThreadFigures | null | undefined,
  ): TargetBudget => ({
    ...budget(target, targetRps, row, {
      ...unavoidable,
      ...(floorRun && { 'SQLite running the commit statements': floorRun.statements.cpuUsPerPost }),
    }),
    ...(floorRun && { oneWriterRps: Math.round(1e6 / floorRun.statements.wallUsPerPost) }),
    ...(thread && {
      writerThread: {
        busy: thread.busy,
        busyUsPerPost: thread.busyUsPerPost,
        allowedUsPerPost: Math.round(1e6 / targetRps),
      },
    }),
  });
  return {
    cores,
    ecdsaVerifyUs,
    hmacUs,
    floor: floor
      ? {
          serverUs: floorServer,
          generatorUs: floorGenerator,
          ceilingRps: Math.round((cores * 1e6) / Math.max(1, floorServer + floorGenerator)),
          measuredRps: floor.rps,
        }
      : null,
    sqlite:
      floor && sqlite
        ? sqliteBudget(
            '0.6× floor',
            0.6 * floor.rps,
            sqlite,
            { generator: floorGenerator, 'ECDSA verify': ecdsaVerifyUs, 'bare HTTP server': floorServer },
            sendGridStorage,
            rows.sqliteThread,
          )
        : null,
    postgres:
      statusQuo && postgres
        ? budget('4× status quo', 4 * statusQuo.rps, postgres, {
            generator: floorGenerator,
            'ECDSA verify': ecdsaVerifyUs,
            'bare HTTP server': floorServer,
            'PostgreSQL storing the request': us(postgresPaused, (r) => r.postgresCpuUsPerRequest),
            ...(rows.postgresProcessingUs !== undefined && {
              'PostgreSQL processing its events': rows.postgresProcessingUs,
            }),
          })
        : null,
    sqlitePostmark:
      floor && postmark
        ? sqliteBudget(
            '0.5× floor, single-event Postmark',
            0.5 * floor.rps,
            postmark,
            { generator: floorGenerator, 'bare HTTP server': floorServer },
            storage,
            rows.postmarkThread,
          )
        : null,
    storage,
    storageWithEndpoint,
    sendGridStorage,
  };
}

/**
 * Issue 16's CPU per delivered event (mailhook's threads, ingest to delivered; single-event Postmark
 * posts with basic auth since 2026-12-08, single-event SendGrid posts before): the parts no
 * implementation avoids for one event. A bare HTTP server takes the post; SQLite's share is the
 * storage floor's with an endpoint (Postmark rows at the ingest row's group size, the event's
 * delivery row included); POSTing it costs at least what the cheapest client in the run paid a POST
 * (`postUs`: the lesser of the delivery floor's CPU per delivery, bench/deliver-floor.ts, undici
 * signing the same bodies at mailhook's in-flight limit, and the load generator's per request at the
 * floor's rate, node:http over 50 connections). Recording the attempt comes on top.
 */
export interface DeliveredEventBudget {
  targetUs: number;
  unavoidable: Record<string, number>;
  unavoidableUs: number;
  measuredUs: number;
}

/** What mailhook's own process cannot avoid for one delivered event: take the post, store it, POST it. */
function deliveredEventParts(
  b: CpuBudget,
  postUs: number | null,
  server = 'bare HTTP server',
): Record<string, number> | null {
  const stored = b.storageWithEndpoint;
  if (!b.floor || !stored) return null;
  return {
    [server]: b.floor.serverUs,
    "SQLite running the commit statements, the event's delivery row included": stored.statements.cpuUsPerPost,
    ...(postUs !== null && { 'POSTing it (the cheapest client in this run)': postUs }),
  };
}

export function deliveredEventBudget(
  b: CpuBudget,
  measuredUs: number,
  postUs: number | null,
): DeliveredEventBudget | null {
  const unavoidable = deliveredEventParts(b, postUs);
  return (
    unavoidable && { targetUs: 150, unavoidable, unavoidableUs: Math.round(sum(unavoidable)), measuredUs }
  );
}

/**
 * Issue 16's sustained end to end at 0.25× the floor: per event, the parts above plus the generator
 * (the floor row's, a lower bound) and the receiver (a bare HTTP server, also a lower bound: the
 * bench's receiver parses each body for its latency), against the cores at that rate. `used` is the
 * full-load window's CPU per event, process by process.
 */
export function sustainedBudget(
  b: CpuBudget,
  floorRps: number,
  postUs: number | null,
  used: { server: number; receiver: number; generator: number },
): TargetBudget | null {
  const mailhookSide = deliveredEventParts(b, postUs, "bare HTTP server (mailhook's)");
  if (!b.floor || !mailhookSide) return null;
  const targetRps = 0.25 * floorRps;
  const unavoidable = {
    generator: b.floor.generatorUs,
    ...mailhookSide,
    "bare HTTP server (the receiver's)": b.floor.serverUs,
  };
  const unavoidableUs = sum(unavoidable);
  const mailhookUs = used.server + used.receiver + used.generator;
  return {
    target: '0.25× floor, end to end',
    targetRps: Math.round(targetRps),
    unavoidable,
    unavoidableCores: Number(((targetRps * unavoidableUs) / 1e6).toFixed(2)),
    mailhookUs,
    mailhookCores: Number(((targetRps * mailhookUs) / 1e6).toFixed(2)),
    leftUs: Math.round((b.cores * 1e6) / targetRps - unavoidableUs),
    ownUs: Math.round(used.server - sum(mailhookSide)),
  };
}

export const partsOf = (unavoidable: Record<string, number>) =>
  Object.entries(unavoidable)
    .map(([name, value]) => `${name} ${Math.round(value)}`)
    .join(' + ');

/** Whether the parts no implementation avoids leave room under the target, and how much. */
export function deliveredEventVerdict(d: DeliveredEventBudget): string {
  return d.unavoidableUs > d.targetUs
    ? `out of reach here: ${partsOf(d.unavoidable)} µs = ${d.unavoidableUs} µs, above the ${d.targetUs} µs target`
    : `${d.targetUs - d.unavoidableUs} µs of the ${d.targetUs} µs target left for everything else`;
}

export function printDeliveredEventBudget(d: DeliveredEventBudget): void {
  console.log(
    `  CPU per delivered event: ${partsOf(d.unavoidable)} µs = ${d.unavoidableUs} µs; ${deliveredEventVerdict(d)}; mailhook used ${d.measuredUs} µs`,
  );
}

export function printCpuBudget(b: CpuBudget): void {
  console.log(
    `\nCPU per request (${b.cores} cores shared by generator, server and PostgreSQL; ECDSA P-256 verify ${b.ecdsaVerifyUs} µs, HMAC-SHA256 ${b.hmacUs} µs here):`,
  );
  if (b.floor)
    console.log(
      `  floor: server ${b.floor.serverUs} + generator ${b.floor.generatorUs} µs → at most ${b.floor.ceilingRps} req/s on ${b.cores} cores; measured ${b.floor.measuredRps}`,
    );
  for (const s of [b.storage, b.storageWithEndpoint, b.sendGridStorage]) {
    if (!s) continue;
    const posts =
      s.provider === 'sendgrid' ? `SendGrid posts of ${s.eventsPerPost} events` : 'Postmark posts';
    console.log(
      `  SQLite storage floor (${posts}, groups of ${s.group}, FULL, ${s.endpoint ? 'one endpoint' : 'no endpoint'}): mailhook's ingest commit ${s.commit.cpuUsPerPost} µs CPU / ${s.commit.wallUsPerPost} µs wall per post; its ${s.statements.perPost} statements per post replayed alone ${s.statements.cpuUsPerPost} µs CPU / ${s.statements.wallUsPerPost} µs wall`,
    );
  }
  for (const t of [b.sqlite, b.postgres, b.sqlitePostmark]) if (t) printTargetBudget(t, 'request');
}

/** One target's budget line: the parts no implementation avoids at its rate, and what that leaves. */
export function printTargetBudget(t: TargetBudget, unit: 'request' | 'event'): void {
  const rate = unit === 'request' ? 'req/s' : 'events/s';
  console.log(
    `  ${t.target} = ${t.targetRps} ${rate}: ${partsOf(t.unavoidable)} µs = ${t.unavoidableCores} cores before any of mailhook's own work, which then has ${t.leftUs} µs per ${unit} and took ${t.ownUs} (its run used ${t.mailhookUs} µs = ${t.mailhookCores} cores at that rate)${t.oneWriterRps ? `; one SQLite writer running those statements alone takes ${t.oneWriterRps} posts/s at this group size` : ''}${writerTurn(t)}`,
  );
}

/** The SQLite writer thread's share of a row, when the row's target reported it. */
export function writerTurn(t: TargetBudget): string {
  const w = t.writerThread;
  if (!w) return '';
  return `; the SQLite thread was busy ${Math.round(w.busy * 100)}% of the row, ${w.busyUsPerPost} µs of its time a post, where the target rate leaves it ${w.allowedUsPerPost}`;
}
