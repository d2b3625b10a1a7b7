import { createHmac, generateKeyPairSync, sign, verify } from 'node:crypto';
import { cpus } from 'node:os';
import type { LoadResult } from './load.js';
import { median } from './procs.js';

/**
 * Every ingest row here is CPU-bound: the load generator, mailhook and PostgreSQL share two cores.
 * So a ratio target can be checked against arithmetic: the CPU one request needs (generator +
 * server + database, measured per request in the same run) times the target rate, against the
 * cores there are. Where even the parts no implementation avoids (the generator, the provider's
 * signature check, a bare HTTP server) exceed the cores at the target rate, the target is out of
 * reach on this machine whatever mailhook does.
 */
export interface CpuBudget {
  cores: number;
  /** Measured in this process, median of 3 × 2,000. */
  ecdsaVerifyUs: number;
  hmacUs: number;
  floor: { serverUs: number; generatorUs: number; ceilingRps: number; measuredRps: number } | null;
  sqlite: TargetBudget | null;
  postgres: TargetBudget | null;
}

export interface TargetBudget {
  target: string;
  targetRps: number;
  /**
   * µs per request no implementation avoids, and the cores they need at the target rate. The
   * generator's share is the floor row's (the same SendGrid bodies, at the floor's high rate, where
   * it costs least per request).
   */
  unavoidable: Record<string, number>;
  unavoidableCores: number;
  /** What mailhook's row used per request in this run (server + database + generator). */
  mailhookUs: number;
  mailhookCores: number;
}

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
}): CpuBudget {
  const cores = cpus().length;
  const { ecdsaVerifyUs, hmacUs } = cryptoCosts();
  const { floor, statusQuo, sqlite, postgres, postgresPaused } = rows;
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
    const unavoidableUs = Object.values(unavoidable).reduce((a, b) => a + b, 0);
    return {
      target,
      targetRps: Math.round(targetRps),
      unavoidable,
      unavoidableCores: Number(((targetRps * unavoidableUs) / 1e6).toFixed(2)),
      mailhookUs: Math.round(total(row)),
      mailhookCores: Number(((targetRps * total(row)) / 1e6).toFixed(2)),
    };
  };
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
        ? budget('0.6× floor', 0.6 * floor.rps, sqlite, {
            generator: floorGenerator,
            'ECDSA verify': ecdsaVerifyUs,
            'bare HTTP server': floorServer,
          })
        : null,
    postgres:
      statusQuo && postgres
        ? budget('4× status quo', 4 * statusQuo.rps, postgres, {
            generator: floorGenerator,
            'ECDSA verify': ecdsaVerifyUs,
            'bare HTTP server': floorServer,
            'PostgreSQL storing the request': us(postgresPaused, (r) => r.postgresCpuUsPerRequest),
          })
        : null,
  };
}

export function printCpuBudget(b: CpuBudget): void {
  console.log(
    `\nCPU per request (${b.cores} cores shared by generator, server and PostgreSQL; ECDSA P-256 verify ${b.ecdsaVerifyUs} µs, HMAC-SHA256 ${b.hmacUs} µs here):`,
  );
  if (b.floor)
    console.log(
      `  floor: server ${b.floor.serverUs} + generator ${b.floor.generatorUs} µs → at most ${b.floor.ceilingRps} req/s on ${b.cores} cores; measured ${b.floor.measuredRps}`,
    );
  for (const t of [b.sqlite, b.postgres]) {
    if (!t) continue;
    const parts = Object.entries(t.unavoidable)
      .map(([name, value]) => `${name} ${Math.round(value)}`)
      .join(' + ');
    console.log(
      `  ${t.target} = ${t.targetRps} req/s: ${parts} µs = ${t.unavoidableCores} cores before any of mailhook's own work (mailhook's run used ${t.mailhookUs} µs = ${t.mailhookCores} cores at that rate)`,
    );
  }
}
