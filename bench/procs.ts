import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Child processes of the benchmark: targets (which print one JSON line once they listen), one-shot
 * tools (the load generator and the delivery floor, which print one JSON result line), and peak-RSS
 * sampling of a target from /proc. Everything runs on 127.0.0.1 and is stopped by its own pid.
 */
export const HERE = dirname(fileURLToPath(import.meta.url));

// src/version.ts reads package.json two levels above itself: .bench-build/package.json in this build.
copyFileSync(join(HERE, '..', '..', 'package.json'), join(HERE, '..', 'package.json'));

export interface Target {
  child: ChildProcess;
  pid: number;
  url: string;
  admin?: string;
  info: Record<string, unknown>;
}

/**
 * `npm run bench -- --profile=DIR` (or MAILHOOK_BENCH_PROFILE=DIR): targets run under
 * `node --cpu-prof`, one .cpuprofile per thread in DIR, written when the target stops.
 */
const PROFILE_DIR =
  process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length) ??
  process.env.MAILHOOK_BENCH_PROFILE;
if (PROFILE_DIR) process.env.MAILHOOK_BENCH_PROFILE = PROFILE_DIR;
const profileArgs = (script: string) =>
  PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, script.replace(/\.js$/, ''))}`] : [];

export async function startTarget(script: string, args: unknown = {}): Promise<Target> {
  const child = spawn(
    process.execPath,
    [...profileArgs(script), join(HERE, 'targets', script), JSON.stringify(args)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  // Anything the target prints later (mailhook's key notice, say) must not fill the pipe.
  child.stdout?.resume();
  const info = JSON.parse(first) as { url: string; admin?: string } & Record<string, unknown>;
  return { child, pid: child.pid ?? 0, url: info.url, ...(info.admin && { admin: info.admin }), info };
}

export async function stopTarget(target: Target, timeoutMs = 20_000): Promise<void> {
  if (target.child.exitCode !== null || target.child.signalCode !== null) return;
  const exited = new Promise((resolve) => target.child.once('exit', resolve));
  target.child.kill('SIGTERM');
  const timer = setTimeout(() => target.child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Runs a bench script to completion and parses the JSON line it prints. */
export function runTool<T>(script: string, args: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(HERE, script), JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`${script} exited ${code}`)),
    );
  });
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS now, VmHWM its peak). */
export function rssMb(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** CPU time a process has used so far (user + system, all threads), in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100;

/**
 * Seconds since the process `pid` started (field 22 of /proc/<pid>/stat against /proc/uptime), or
 * null where /proc does not say.
 */
export function secondsSinceStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const seconds = uptime - Number(fields[19]) / CLOCK_TICKS;
    return Number.isFinite(seconds) ? seconds : null;
  } catch {
    return null;
  }
}

/** Measures a process's CPU use over an interval: `stop()` returns the ms it used since `cpuMeter`. */
export function cpuMeter(pid: number): { stop(): number } {
  const start = cpuMs(pid);
  return { stop: () => cpuMs(pid) - start };
}

/** The pids of every process named `postgres` (the server and its backends). */
function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'postgres') pids.push(Number(entry));
    } catch {
      // A process that exited between the listing and the read.
    }
  }
  return pids;
}

/** `measure` summed over PostgreSQL's processes, those that exited since the listing left out. */
function postgresTotal(measure: (pid: number) => number): number {
  return postgresPids()
    .map(measure)
    .filter(Number.isFinite)
    .reduce((a, b) => a + b, 0);
}

/**
 * PostgreSQL's CPU over an interval. Backends that exit within it take their time with them (so
 * per-request pools, not the long-lived ones used here, would be undercounted).
 */
export function postgresCpuMeter(): { stop(): number } {
  const start = postgresTotal(cpuMs);
  return { stop: () => postgresTotal(cpuMs) - start };
}

/**
 * Bytes a process has sent to storage so far, all its threads: `write_bytes` of /proc/<pid>/io, which
 * counts each page-cache page when the process dirties it (SQLite's WAL frames and its checkpoints'
 * copies into the database file alike). NaN where the file cannot be read (another user's process
 * without root).
 */
export function writtenBytes(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return Number(/^write_bytes: (\d+)$/m.exec(io)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/**
 * What the target, and with `postgres` PostgreSQL's processes, wrote over an interval (bytes; NaN when
 * one of them could not be read). PostgreSQL writes its WAL within the interval but most table and
 * index pages later (its checkpointer), so its share is the WAL and what its backends evicted; a
 * backend that exits within the interval takes its bytes with it, one that starts counts whole.
 */
export function writeMeter(pid: number, postgres: boolean): { stop(): number } {
  const read = () => {
    const bytes = new Map<number, number>();
    for (const p of [pid, ...(postgres ? postgresPids() : [])]) {
      const written = writtenBytes(p);
      // A process that exited since the listing is left out; one that cannot be read spoils the sum.
      if (Number.isNaN(written) && !existsSync(`/proc/${p}`)) continue;
      bytes.set(p, written);
    }
    return bytes;
  };
  const start = read();
  return {
    stop() {
      let total = 0;
      for (const [p, bytes] of read()) total += bytes - (start.get(p) ?? 0);
      return total;
    },
  };
}

/** Samples VmRSS every `everyMs`; `stop()` returns the peak seen (and the kernel's VmHWM). */
export function sampleRss(pid: number, everyMs = 100): { stop(): { peakMb: number; hwmMb: number } } {
  let peak = 0;
  let hwm = 0;
  const take = () => {
    const now = rssMb(pid);
    peak = Math.max(peak, now.rss);
    hwm = Math.max(hwm, now.hwm);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { peakMb: Math.round(peak), hwmMb: Math.round(hwm) };
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; false when `timeoutMs` passed first. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
