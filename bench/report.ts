import {
  type DeliveredEventBudget,
  deliveredEventVerdict,
  partsOf,
  type TargetBudget,
  writerTurn,
} from './cpu-budget.js';
import type { LoadResult } from './load.js';

/** Table rows and the targets of issues 7 and 16, judged from one run's figures. */

export function pad(text: string | number, width: number, left = false): string {
  const s = String(text);
  return left ? s.padEnd(width) : s.padStart(width);
}

export const ratio = (a: number, b: number | null | undefined) => (b ? Number((a / b).toFixed(2)) : null);
const show = (r: number | null) => (r === null ? '—' : r.toFixed(2));

export function ingestHeader(): string {
  return [
    pad('ingest scenario', 50, true),
    pad('req/s', 7),
    pad('events/s', 9),
    pad('ratio', 6),
    pad('vs', 10, true),
    pad('p50 ms', 7),
    pad('p99 ms', 7),
    pad('p99.9', 7),
    pad('cpu µs', 7),
    pad('pg µs', 6),
    pad('gen µs', 7),
    pad('disk KiB', 9),
    pad('runs', 5),
  ].join(' ');
}

export function ingestRow(
  label: string,
  r: LoadResult,
  baseline: { name: string; rps: number } | null,
  runs: number,
): string {
  return [
    pad(label, 50, true),
    pad(r.rps, 7),
    pad(r.eventsPerSec, 9),
    pad(show(baseline ? ratio(r.rps, baseline.rps) : null), 6),
    pad(baseline?.name ?? '', 10, true),
    pad(r.latencyMs.p50.toFixed(1), 7),
    pad(r.latencyMs.p99.toFixed(1), 7),
    pad(r.latencyMs.p999.toFixed(1), 7),
    pad(Number.isFinite(r.serverCpuUsPerRequest) ? Math.round(r.serverCpuUsPerRequest ?? 0) : '—', 7),
    pad(
      r.postgresCpuUsPerRequest && r.postgresCpuUsPerRequest >= 1
        ? Math.round(r.postgresCpuUsPerRequest)
        : '—',
      6,
    ),
    pad(Math.round(r.cpuUsPerRequest), 7),
    pad(
      Number.isFinite(r.writtenBytesPerRequest) ? ((r.writtenBytesPerRequest ?? 0) / 1024).toFixed(1) : '—',
      9,
    ),
    pad(runs, 5),
  ].join(' ');
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
  /** For a missed target with a CPU budget: whether the parts no implementation avoids leave room. */
  bound?: string;
}

export interface TargetInputs {
  sqliteVsFloor: number | null;
  pgVsStatusQuo: number | null;
  halfRateP99: number | null;
  pgHalfRateP99: number | null;
  delivery1VsFloor: number | null;
  delivery100VsFloor: number | null;
  slowEffect: number | null;
  e2eVsFloor: number | null;
  /** Issue 16: the sustained end-to-end target's budget (cpu-budget.ts `sustainedBudget`). */
  sustainedBudget: TargetBudget | null;
  e2eP50: number | null;
  e2eP50Postgres: number | null;
  backlog: { events: number; peakMb: number; complete: boolean } | null;
  /** Bytes on disk per single-event Postmark post, SQLite after a checkpoint (bench/disk.ts). */
  sqliteBytesPerEvent: number | null;
  /** Issue 16: single-event Postmark posts on SQLite against the floor, and its budget. */
  postmarkVsFloor: number | null;
  postmarkBudget: TargetBudget | null;
  /** Issue 7's ingest targets (SendGrid, 5 events a post), SQLite and PostgreSQL, and their budgets. */
  sqliteBudget: TargetBudget | null;
  pgBudget: TargetBudget | null;
  /** Issue 16: mailhook's CPU per delivered event at full load, SQLite, and its budget. */
  deliveredBudget: DeliveredEventBudget | null;
  /** The default `npm run bench`, `tsc` included, in seconds (null for --quick, --only or run directly). */
  runSeconds: number | null;
}

const judge = (value: number | null, ok: (v: number) => boolean) => (value === null ? null : ok(value));

export function judgeTargets(t: TargetInputs): Target[] {
  const f = (v: number | null, digits: number, unit: string) =>
    v === null ? 'not measured' : `${v.toFixed(digits)}${unit}`;
  return [
    {
      target: 'ingest SQLite (synchronous=FULL, signature checked) ≥ 0.6× floor',
      measured: f(t.sqliteVsFloor, 2, '×'),
      met: judge(t.sqliteVsFloor, (v) => v >= 0.6),
      ...(t.sqliteBudget && { bound: ingestBound(t.sqliteBudget, 'request') }),
    },
    {
      target: 'ingest PostgreSQL ≥ 4× status quo',
      measured: f(t.pgVsStatusQuo, 2, '×'),
      met: judge(t.pgVsStatusQuo, (v) => v >= 4),
      ...(t.pgBudget && { bound: ingestBound(t.pgBudget, 'request') }),
    },
    {
      target: 'p99 ack at half max rate ≤ 10 ms (SQLite)',
      measured: f(t.halfRateP99, 1, ' ms'),
      met: judge(t.halfRateP99, (v) => v <= 10),
    },
    {
      target: 'p99 ack at half max rate ≤ 10 ms (PostgreSQL)',
      measured: f(t.pgHalfRateP99, 1, ' ms'),
      met: judge(t.pgHalfRateP99, (v) => v <= 10),
    },
    {
      target: 'delivery, 1 fast endpoint ≥ 0.5× undici floor',
      measured: f(t.delivery1VsFloor, 2, '×'),
      met: judge(t.delivery1VsFloor, (v) => v >= 0.5),
    },
    {
      target: 'delivery, 100 endpoints ≥ 0.4× undici floor',
      measured: f(t.delivery100VsFloor, 2, '×'),
      met: judge(t.delivery100VsFloor, (v) => v >= 0.4),
    },
    {
      target: 'a 2 s endpoint does not slow the others (≥ 0.9× their rate without it)',
      measured: f(t.slowEffect, 2, '×'),
      met: judge(t.slowEffect, (v) => v >= 0.9),
    },
    {
      target: 'sustained end to end ≥ 0.25× floor (single-event Postmark posts)',
      measured: f(t.e2eVsFloor, 2, '×'),
      met: judge(t.e2eVsFloor, (v) => v >= 0.25),
      ...(t.sustainedBudget && { bound: ingestBound(t.sustainedBudget, 'event') }),
    },
    {
      target: 'p50 ingest → delivered ≤ 25 ms at moderate load (SQLite)',
      measured: f(t.e2eP50, 1, ' ms'),
      met: judge(t.e2eP50, (v) => v <= 25),
    },
    {
      target: 'p50 ingest → delivered ≤ 25 ms at moderate load (PostgreSQL)',
      measured: f(t.e2eP50Postgres, 1, ' ms'),
      met: judge(t.e2eP50Postgres, (v) => v <= 25),
    },
    {
      target: 'backlog of 1,000,000 drains with peak RSS < 300 MB',
      measured: t.backlog
        ? `${t.backlog.events.toLocaleString('en')} events, peak ${t.backlog.peakMb} MB${t.backlog.complete ? '' : ' (drain did not finish)'}${t.backlog.events < 1_000_000 ? '; judged only at 1,000,000 (--backlog=1000000)' : ''}`
        : 'not measured',
      // A smaller backlog (what the 5-minute budget leaves) can miss the target, not meet it.
      met: !t.backlog
        ? null
        : !t.backlog.complete || t.backlog.peakMb >= 300
          ? false
          : t.backlog.events >= 1_000_000
            ? true
            : null,
    },
    {
      target: 'ingest SQLite, single-event Postmark posts ≥ 0.5× floor',
      measured: f(t.postmarkVsFloor, 2, '×'),
      met: judge(t.postmarkVsFloor, (v) => v >= 0.5),
      ...(t.postmarkBudget && { bound: ingestBound(t.postmarkBudget, 'post') }),
    },
    {
      target: "mailhook's CPU per delivered event ≤ 150 µs (SQLite, full load)",
      measured: t.deliveredBudget ? `${t.deliveredBudget.measuredUs} µs` : 'not measured',
      met: t.deliveredBudget ? t.deliveredBudget.measuredUs <= t.deliveredBudget.targetUs : null,
      ...(t.deliveredBudget && { bound: deliveredEventVerdict(t.deliveredBudget) }),
    },
    {
      target: '≤ 1 KB on disk per single-event post (SQLite, no endpoint, after a checkpoint)',
      measured: t.sqliteBytesPerEvent === null ? 'not measured' : `${t.sqliteBytesPerEvent} bytes`,
      met: judge(t.sqliteBytesPerEvent, (v) => v <= 1024),
    },
    {
      target: 'the default npm run bench fits in 5 minutes (tsc included)',
      measured: t.runSeconds === null ? 'not measured' : `${t.runSeconds} s until this table`,
      met: judge(t.runSeconds, (v) => v <= 300),
    },
  ];
}

/** Whether the parts no implementation avoids leave room at an ingest target's rate, and how much. */
function ingestBound(b: TargetBudget, unit: 'post' | 'request' | 'event'): string {
  // Not a ceiling: larger groups cost less per post, and full load makes larger groups.
  const writer =
    b.oneWriterRps === undefined
      ? ''
      : `; one SQLite writer running the commit's statements alone takes ${b.oneWriterRps} posts/s at this run's group size`;
  return b.leftUs < 0
    ? `out of reach here: ${partsOf(b.unavoidable)} µs per ${unit} need ${b.unavoidableCores} cores at ${b.targetRps} ${unit}s/s${writer}`
    : `${b.leftUs} µs per ${unit} left for mailhook's own work, which took ${b.ownUs}${writer}${writerTurn(b)}`;
}

export function printTargets(targets: Target[]): void {
  for (const t of targets) {
    const verdict = t.met === null ? 'n/a   ' : t.met ? 'MET   ' : 'MISSED';
    console.log(`  ${verdict} ${pad(t.target, 72, true)} ${t.measured}`);
    if (t.bound && t.met === false) console.log(`         ${t.bound}`);
  }
}
