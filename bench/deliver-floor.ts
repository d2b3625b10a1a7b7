import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { webhookHeaders } from '../src/delivery/sign.js';

/**
 * The delivery floor: raw undici keep-alive POSTs from one process, with nothing but what any
 * sender must do — sign each body (Standard Webhooks, the same code mailhook signs with) and POST
 * it. The same bodies mailhook delivers (read from a file), the same receiver URLs round-robin, the
 * same connections per origin as mailhook's DeliveryClient and the same number in flight as
 * mailhook's limits allow. No store, no claiming, no attempt log. Prints one JSON line.
 */
export interface FloorOptions {
  urls: string[];
  bodiesFile: string;
  secret: string;
  total: number;
  concurrency: number;
  connections: number;
}

export interface FloorResult {
  ok: number;
  failed: number;
  seconds: number;
  rate: number;
  /** This process's CPU (all its threads) per delivery sent, from the first POST to the last answer. */
  cpuUsPerDelivery: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as FloorOptions;
const bodies = JSON.parse(readFileSync(options.bodiesFile, 'utf8')) as { id: string; body: string }[];
const agent = new Agent({ connections: options.connections });
const targets = options.urls.map((u) => new URL(u));

let issued = 0;
let ok = 0;
let failed = 0;

async function worker(): Promise<void> {
  while (issued < options.total) {
    const n = issued++;
    const url = targets[n % targets.length] as URL;
    const { id, body } = bodies[n % bodies.length] as { id: string; body: string };
    const headers = webhookHeaders({
      id,
      timestamp: Math.floor(Date.now() / 1000),
      body,
      secrets: [options.secret],
      userAgent: 'mailhook-bench-floor',
    });
    try {
      const res = await agent.request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers,
        body,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      else failed++;
    } catch {
      failed++;
    }
  }
}

const started = performance.now();
const cpu = process.cpuUsage();
await Promise.all(Array.from({ length: options.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
await agent.close();
const result: FloorResult = {
  ok,
  failed,
  seconds,
  rate: Math.round(ok / seconds),
  cpuUsPerDelivery: Math.round((used.user + used.system) / Math.max(1, ok)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
