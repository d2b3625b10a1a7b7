import { keys } from './ingest.js';
import type { LoadResult } from './load.js';
import { cpuMeter, runTool, startTarget, stopTarget, writeMeter } from './procs.js';

/**
 * One ingest load against one mailhook target, for profiling and quick experiments (not part of
 * `npm run bench`). After `npx tsc -p tsconfig.bench.json`:
 *   node .bench-build/bench/probe.js '{"pipeline":true}' '{"rate":1500}'
 * argv[2]: the target's options (bench/targets/mailhook.ts); argv[3]: the load generator's
 * (bench/load.ts). Add MAILHOOK_BENCH_PROFILE=DIR for CPU profiles of every thread.
 */
const args = JSON.parse(process.argv[2] ?? '{}');
const load = JSON.parse(process.argv[3] ?? '{}');
const target = await startTarget('mailhook.js', {
  publicKey: keys.publicKeyDer,
  basicAuth: keys.basicAuth,
  ...args,
});
try {
  await fetch(`${target.admin}/__bench/reset`, { method: 'POST' });
  const cpu = cpuMeter(target.pid);
  const writes = writeMeter(target.pid, args.databaseUrl !== undefined);
  const result = await runTool<LoadResult>('load.js', {
    url: target.url,
    privateKeyPem: keys.privateKeyPem,
    basicAuth: keys.basicAuth,
    concurrency: 50,
    warmupMs: 500,
    durationMs: 3000,
    eventsPerRequest: 5,
    poolSize: 16000,
    ...load,
  });
  const serverCpuMs = cpu.stop();
  const written = writes.stop();
  const stats = (await (await fetch(`${target.admin}/__bench/stats`)).json()) as Record<string, unknown>;
  console.log(
    JSON.stringify({
      rps: result.rps,
      serverCpuUsPerRequest: Math.round((serverCpuMs * 1000) / Math.max(1, result.issued)),
      writtenBytesPerRequest: Math.round(written / Math.max(1, result.issued)),
      lat: result.latencyMs,
      el: stats.eventLoopDelayMs,
      writer: stats.writer,
      inbox: stats.inbox,
    }),
  );
} finally {
  await stopTarget(target);
}
