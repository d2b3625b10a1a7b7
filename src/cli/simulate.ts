import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KeyError } from '../simulate/keys.js';
import { MIX } from '../simulate/plan.js';
import { progressBar } from '../simulate/progress.js';
import { findSimulator, SIMULATORS } from '../simulate/registry.js';
import { type PlanOptions, prepareRun, runSimulation, targetPath } from '../simulate/runner.js';
import type { Summary } from '../simulate/stats.js';
import type { AnySimulator, KeyFiles } from '../simulate/types.js';
import { UsageError } from './usage.js';

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** Wraps `text` to lines of at most `width` characters, each after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function help(): string {
  const keys = SIMULATORS.map((s) => `  ${s.id.padEnd(13)} ${wrap(s.keyHelp, 84, 16)}`).join('\n');
  const providers = wrap(SIMULATORS.map((s) => s.id).join(', '), 74, 27);
  return `mailhook simulate — act as an email provider: send realistic, signed webhook traffic to a URL.

Every request is in the provider's exact format and signature scheme. The events are a realistic
mix: per message, ${percent(MIX.bounce)} bounce, the others are delivered; ${percent(MIX.open)} of those are opened,
${percent(MIX.click)} of opens clicked, ${percent(MIX.complaint)} reported as spam (delivered ≫ opened > clicked > bounced > complained).

Options:
  --provider <id>          ${providers}
  --url <ingest url>       where to send, e.g. http://127.0.0.1:8787/ingest/src_… (the source's ingest_url)
  --key <value>            the provider credential, see below
  --count <n>              distinct events to send (default 100); exactly these end up stored
  --batch <n>              events per request for providers that batch (sendgrid, sparkpost, mandrill,
                           mailjet, brevo); default 1
  --rate <n>               requests per second (default: as fast as --concurrency allows)
  --concurrency <n>        requests in flight at once (default 10)
  --duplicates <share>     extra copies of valid requests, byte for byte, e.g. 5% (default 0)
  --bad-signatures <share> extra requests signed with a wrong credential, e.g. 1%; a 401 is expected
  --shuffle                send in random order instead of the order the events happened in
  --seed <n>               reproduce a run (the summary prints the seed used)
  --timeout <ms>           per-request timeout (default 30000)
  --dry-run                print the requests as JSON lines instead of sending them
  --json                   print the summary as JSON

--key, per provider (the source must hold the matching config):
${keys}

Output: a progress bar on stderr (terminals only), then a summary: requests sent, acknowledged
(2xx), rejected (401, expected for --bad-signatures), unexpected answers, latency p50/p90/p99.
Exit code 0 when every answer was the expected one, 1 otherwise, 2 for bad options.

Examples:
  mailhook simulate --provider sendgrid --key generate > ~/sendgrid-test.pem   # public key on stderr
  mailhook simulate --provider sendgrid --key ~/sendgrid-test.pem --url http://127.0.0.1:8787/ingest/src_… \\
    --count 10000 --rate 500 --concurrency 20 --batch 50 --duplicates 5% --shuffle --bad-signatures 1%
  mailhook simulate --provider mailgun --key key-3ax6xnjp29jd6fds4gc373sgvjxteol0 --url … --count 50
  MAILHOOK_SNS_CERT_DIR=test/fixtures/ses/signing mailhook serve     # the server must trust the signer
  mailhook simulate --provider ses --key test/fixtures/ses/signing --url … --count 100
  mailhook simulate --provider postmark --key webhooks:a-long-password --url … --json
`;
}

/** `5%` or `0.05`, between 0 and 1. */
function share(name: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(value.trim());
  const number = match ? Number(match[1]) / (match[2] === '%' ? 100 : 1) : Number.NaN;
  if (!(number >= 0 && number <= 1)) throw new UsageError(`${name} must be a share such as 5% or 0.05`);
  return number;
}

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) throw new UsageError(`${name} must be an integer ≥ ${min}`);
  return number;
}

const FILES: KeyFiles = {
  read: (path) => readFileSync(path, 'utf8'),
  list: (dir) => readdirSync(dir),
};

function generateKey(simulator: AnySimulator, json: boolean): number {
  const generated = simulator.generate?.();
  if (!generated) throw new UsageError(`--key generate works for sendgrid and postal, not ${simulator.id}`);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ private_key_pem: generated.privateKeyPem, source_config: generated.sourceConfig })}\n`,
    );
    return 0;
  }
  process.stdout.write(generated.privateKeyPem);
  process.stderr.write(
    `mailhook simulate: new ${simulator.id} private key written to stdout. Give the source its public half:\n` +
      `  PATCH /v1/sources/<id> ${JSON.stringify({ config: generated.sourceConfig })}\n` +
      `then simulate with --key <the saved file>.\n`,
  );
  return 0;
}

function printSummary(summary: Summary): void {
  const r = summary.requests;
  const l = summary.latency_ms;
  const extra = [
    r.duplicates > 0 ? `+${r.duplicates} duplicates` : '',
    r.bad_signatures > 0 ? `+${r.bad_signatures} with bad signatures` : '',
  ].filter(Boolean);
  const lines = [
    `mailhook simulate: ${summary.provider} → ${summary.url} (seed ${summary.seed})${summary.interrupted ? ' — interrupted' : ''}`,
    `events        ${summary.events} in ${r.valid} requests${extra.length ? ` (${extra.join(', ')})` : ''}`,
    `sent          ${summary.sent} of ${r.total} in ${(summary.duration_ms / 1000).toFixed(1)} s (${summary.requests_per_second} req/s)`,
    `acknowledged  ${summary.acknowledged} (2xx)`,
    `rejected      ${summary.rejected} (401, as expected for the bad signatures)`,
    `unexpected    ${summary.unexpected.count}${
      summary.unexpected.count > 0
        ? ` ${JSON.stringify(summary.unexpected.by_status)}: ${summary.unexpected.examples.join('; ')}`
        : ''
    }`,
    `latency       p50 ${l.p50} ms · p90 ${l.p90} ms · p99 ${l.p99} ms · max ${l.max} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      provider: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string', multiple: true },
      count: { type: 'string' },
      batch: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      duplicates: { type: 'string' },
      'bad-signatures': { type: 'string' },
      shuffle: { type: 'boolean' },
      seed: { type: 'string' },
      timeout: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(help());
    return 0;
  }
  if (!values.provider) throw new UsageError('--provider is required (see mailhook simulate --help)');
  const simulator = findSimulator(values.provider);
  if (!simulator) {
    throw new UsageError(
      `unknown provider "${values.provider}"; one of ${SIMULATORS.map((s) => s.id).join(', ')}`,
    );
  }
  const keys = values.key ?? [];
  if (keys.length === 1 && keys[0] === 'generate') return generateKey(simulator, values.json === true);
  if (!values.url)
    throw new UsageError('--url is required: the source ingest_url, e.g. http://127.0.0.1:8787/ingest/src_…');
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url ${values.url} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be http(s)');

  let credential: unknown;
  try {
    credential = simulator.credential(keys, FILES);
  } catch (err) {
    if (err instanceof KeyError) throw new UsageError(err.message);
    throw err;
  }
  const options = {
    simulator,
    credential,
    url: values.url,
    count: integer('--count', values.count, 100, 1),
    batch: integer('--batch', values.batch, 1, 1),
    rate: integer('--rate', values.rate, 0, 0),
    concurrency: integer('--concurrency', values.concurrency, 10, 1),
    duplicates: share('--duplicates', values.duplicates),
    badSignatures: share('--bad-signatures', values['bad-signatures']),
    shuffle: values.shuffle === true,
    seed: integer('--seed', values.seed, randomInt(2 ** 31), 0),
    timeoutMs: integer('--timeout', values.timeout, 30_000, 1),
  };
  if (options.batch > simulator.maxBatch && !values.json) {
    process.stderr.write(
      `mailhook simulate: ${simulator.id} posts at most ${simulator.maxBatch} event(s) per request; --batch ${simulator.maxBatch}\n`,
    );
  }

  if (values['dry-run']) return dryRun(options);

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  const progress = progressBar(process.stderr);
  try {
    const summary = await runSimulation({
      ...options,
      signal: controller.signal,
      onProgress: progress.update,
    });
    progress.finish();
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else printSummary(summary);
    return summary.unexpected.count === 0 && !summary.interrupted ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', stop);
  }
}

/** The requests a run would send, one JSON line each, without sending anything. */
function dryRun(options: PlanOptions): number {
  const { traffic, requestOf } = prepareRun(options);
  const url = new URL(options.url);
  for (const slot of traffic.slots) {
    const request = requestOf(slot);
    const line = {
      kind: slot.kind,
      events: slot.events.map((e) => e.kind),
      method: request.method,
      url: `${url.origin}${targetPath(url, request.query)}`,
      headers: request.headers,
      body: request.body,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  return 0;
}
