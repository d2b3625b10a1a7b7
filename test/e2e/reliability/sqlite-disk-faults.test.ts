import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../helpers/ci.js';
import {
  allEvents,
  checkStored,
  createSendGridSource,
  inboxDrained,
  sleep,
} from '../../helpers/pg-database.js';
import {
  api,
  e2eEnv,
  killAll,
  runCli,
  type ServerProcess,
  startServer,
  waitFor,
} from '../../helpers/process.js';
import { ingestLoad, type LoadRecord, tally } from '../../helpers/reliability.js';
import { sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * SQLite when the disk says no: full (a tiny tmpfs filled to the last byte), files that cannot be
 * written (chattr +i on the database and its WAL while the server runs: unlike chmod, this stops
 * root and already-open descriptors too) and a read-only filesystem at start. Ingest must answer
 * 503 (never 200) while it cannot commit, log why, and recover by itself once the disk is back.
 */

const IS_ROOT = process.getuid?.() === 0;
const cleanups: Array<() => void> = [];

afterEach(async () => {
  await killAll();
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch {
      // best effort: a later cleanup (rm) still runs
    }
  }
});

function tmpfs(sizeMb: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

function canMountTmpfs(): boolean {
  if (!IS_ROOT) return false;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'mailhook-probe-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

function canChattr(): boolean {
  if (!IS_ROOT) return false;
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-probe-'));
  try {
    execFileSync('touch', [join(dir, 'f')]);
    execFileSync('chattr', ['+i', join(dir, 'f')], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', join(dir, 'f')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes zeros to `file` until the filesystem refuses (ENOSPC); returns the bytes written. */
async function fillDisk(file: string): Promise<number> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += (await handle.write(chunk)).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
  return written;
}

interface FaultRun {
  records: LoadRecord[];
  faultAt: number;
  clearedAt: number;
}

/**
 * Ingest load (4 senders, ~2 KB events) around a fault: 1.5 s healthy, `inject()`, 2.5 s faulty,
 * `clear()`, 2.5 s recovered. Then the pipeline must drain and every acknowledged event be stored once.
 */
async function loadAroundFault(
  server: ServerProcess,
  inject: () => Promise<void> | void,
  clear: () => Promise<void> | void,
): Promise<FaultRun & { stored: number; acknowledged: number }> {
  const signer = sendGridSigner();
  const sourceId = await createSendGridSource(server.url, signer, 'disk faults');
  const t0 = performance.now();
  let stopped = false;
  const load = ingestLoad({
    url: server.url,
    sourceId,
    signer,
    senders: 4,
    t0,
    stopped: () => stopped,
    timeoutMs: 20_000,
    // Padded events, so every commit needs new pages (the WAL cannot absorb it in space it already has).
    events: () => sendGridEvents(1 + Math.floor(Math.random() * 3), { padding: 'x'.repeat(2000) }),
  });
  await sleep(1500);
  await inject();
  const faultAt = performance.now() - t0;
  await sleep(2500);
  await clear();
  const clearedAt = performance.now() - t0;
  await sleep(2500);
  stopped = true;
  await load.done;

  await waitFor('the inbox to drain', async () => ((await inboxDrained(server.url)) ? true : undefined), {
    timeoutMs: 40_000,
    intervalMs: 200,
  }).catch((err: unknown) => {
    const df = execFileSync('df', ['-k', server.dataDir]).toString();
    const errors = errorLines(server, /./).slice(-3).join('\n');
    throw new Error(`${String(err)}\n${df}\nlast error lines:\n${errors}`);
  });
  const events = (await allEvents(server.url)).filter((e) => e.data.source_id === sourceId);
  const acknowledged = new Set(load.records.filter((r) => r.status === 200).flatMap((r) => r.ids));
  const { missing, duplicated, unknown } = checkStored(
    events,
    acknowledged,
    new Set(load.records.flatMap((r) => r.ids)),
  );
  // A fault is the disk's, never a row's: nothing acknowledged may end up quarantined for it.
  const quarantined = await api<{ data: Array<{ id: string; error: string }> }>(
    server.url,
    '/v1/inbox?status=quarantined&limit=5',
  );
  expect(quarantined.body.data, 'rows quarantined by the fault').toEqual([]);
  expect(missing, 'acknowledged events lost').toEqual([]);
  expect(duplicated, 'events stored twice').toEqual([]);
  expect(unknown).toEqual([]);
  return {
    records: load.records,
    faultAt,
    clearedAt,
    stored: events.length,
    acknowledged: acknowledged.size,
  };
}

function summary(run: FaultRun): { during: Record<string, number>; after: Record<string, number> } {
  // Requests sent during the fault, and those sent from 500 ms after it was cleared.
  const during = run.records.filter((r) => r.sentAt >= run.faultAt + 100 && r.sentAt < run.clearedAt);
  const after = run.records.filter((r) => r.sentAt >= run.clearedAt + 500);
  return { during: tally(during, (r) => r.status), after: tally(after, (r) => r.status) };
}

/** Error-level log lines of the server whose message or error mentions `pattern`. */
function errorLines(server: ServerProcess, pattern: RegExp): string[] {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.includes('"level":50') && pattern.test(line));
}

const TMPFS = canMountTmpfs() ? null : 'cannot mount a tmpfs (needs root)';
const CHATTR = canChattr() ? null : 'cannot set the immutable attribute with chattr (needs root on ext2/3/4)';

describe.skipIf(skipOutsideCi('the full-disk tests', TMPFS))('SQLite on a full disk', () => {
  it('answers 503 while the disk is full, logs why, and stores everything it acknowledged once space is back', async () => {
    const dataDir = tmpfs(128);
    const server = await startServer({ dataDir, env: { MAILHOOK_LOG_LEVEL: 'warn' } });
    let filled = 0;
    const run = await loadAroundFault(
      server,
      async () => {
        filled = await fillDisk(join(dataDir, 'filler'));
      },
      () => rmSync(join(dataDir, 'filler')),
    );
    const { during, after } = summary(run);
    const logged = errorLines(server, /database or disk is full/);
    console.log(
      `full disk: filled ${(filled / 1024 / 1024).toFixed(1)} MB of a 128 MB tmpfs; requests while full ` +
        `${JSON.stringify(during)}, after space returned ${JSON.stringify(after)}; ${run.acknowledged} events ` +
        `acknowledged, ${run.stored} stored, 0 lost; ${logged.length} error log lines name the cause`,
    );
    expect(during['503'] ?? 0, 'requests refused with 503 while the disk was full').toBeGreaterThan(0);
    expect(Object.keys(during).filter((s) => s !== '200' && s !== '503')).toEqual([]);
    expect(after, 'every request after space returned').toEqual({ '200': expect.any(Number) });
    expect(logged.some((l) => l.includes('could not store ingest request'))).toBe(true);
    expect((await api(server.url, '/readyz')).status).toBe(200);
    await server.stop();
  }, 60_000);
});

describe.skipIf(skipOutsideCi('the immutable-file tests', CHATTR))(
  'SQLite files that cannot be written',
  () => {
    it('answers 503 while the database and its WAL are immutable, logs why, and recovers when they are writable again', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mailhook-immutable-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const server = await startServer({ dataDir, env: { MAILHOOK_LOG_LEVEL: 'warn' } });
      // The -shm file is memory-mapped: an immutable mapping would fault, not fail a write. Real
      // read-only remounts cannot be produced under a running server (the kernel refuses while files
      // are open for writing), so immutability is the closest fault that reaches SQLite's writes.
      const files = () =>
        readdirSync(dataDir)
          .filter((f) => f === 'mailhook.db' || f === 'mailhook.db-wal')
          .map((f) => join(dataDir, f));
      let locked: string[] = [];
      cleanups.push(() => {
        if (locked.length > 0) execFileSync('chattr', ['-i', ...locked]);
      });
      const run = await loadAroundFault(
        server,
        () => {
          locked = files();
          execFileSync('chattr', ['+i', ...locked]);
        },
        () => {
          execFileSync('chattr', ['-i', ...locked]);
          locked = [];
        },
      );
      const { during, after } = summary(run);
      const logged = errorLines(server, /disk I\/O error|SQLITE_IOERR|readonly/i);
      console.log(
        `immutable database files: requests while locked ${JSON.stringify(during)}, after ${JSON.stringify(after)}; ` +
          `${run.acknowledged} events acknowledged, ${run.stored} stored, 0 lost; ${logged.length} error log lines name the cause`,
      );
      expect(during['503'] ?? 0).toBeGreaterThan(0);
      expect(Object.keys(during).filter((s) => s !== '200' && s !== '503')).toEqual([]);
      expect(after).toEqual({ '200': expect.any(Number) });
      expect(logged.some((l) => l.includes('could not store ingest request'))).toBe(true);
      await server.stop();
    }, 60_000);
  },
);

describe.skipIf(skipOutsideCi('the read-only filesystem test', TMPFS))(
  'SQLite on a read-only filesystem at start',
  () => {
    it('refuses to start with a message naming the database file, and starts with its data intact once writable', async () => {
      const dataDir = tmpfs(16);
      const first = await startServer({ dataDir });
      const signer = sendGridSigner();
      const sourceId = await createSendGridSource(first.url, signer, 'read-only start');
      await first.stop();
      execFileSync('mount', ['-o', 'remount,ro', dataDir]);

      const refused = await runCli(['serve'], e2eEnv(dataDir, { HOST: '127.0.0.1', PORT: '0' }), 15_000);
      const output = `${refused.stderr}${refused.stdout}`;
      console.log(
        `read-only data dir at start: exit ${refused.code} after ${refused.ms} ms: ${output.trim().slice(0, 300)}`,
      );

      execFileSync('mount', ['-o', 'remount,rw', dataDir]);
      const again = await startServer({ dataDir });
      const source = await api<{ id: string }>(again.url, `/v1/sources/${sourceId}`);
      expect(source.status).toBe(200);
      await again.stop();

      expect(refused.code, 'exit code of serve on a read-only data dir').not.toBe(0);
      expect(refused.signal).toBeNull();
      // What an operator needs to act: which file, and that it could not be opened or written.
      expect(output).toMatch(/unable to open|read-only|readonly/i);
      expect(output, 'the message names the database file').toContain(join(dataDir, 'mailhook.db'));
    }, 40_000);
  },
);
