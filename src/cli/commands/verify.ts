import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseTime } from '../../api/cursor.js';
import { MailhookError } from '../../errors.js';
import { httpFetcher } from '../../ingest/fetcher.js';
import { SnsCertificates } from '../../ingest/sns-certificates.js';
import { findAdapter, providerIds } from '../../providers/registry.js';
import type { ParseResult, RawRequest, Source, VerifyContext } from '../../providers/types.js';
import { EXIT_CODES, jsonObjectValue, pairsValue, type Values } from '../http.js';
import { print, printJson } from '../output.js';
import { UsageError } from '../usage.js';

/**
 * `mailhook verify`: checks a captured request (body + headers) the way the ingest route would, with
 * the same provider adapters, and says exactly why it fails. Runs locally; no server involved. A
 * mailhook delivery is checked with `--provider standard --secret whsec_…` (Standard Webhooks).
 */

const HELP = `mailhook verify --provider <id> --body <file|-> [--header "Name: value"]… [credentials] [options]

Verifies a provider's webhook request (or a mailhook delivery) exactly as mailhook's ingest does,
then parses it, and says why it fails when it does. Nothing is sent anywhere (SES may fetch the
SNS signing certificate from Amazon unless MAILHOOK_SNS_CERT_DIR holds it).

Request:
  --body <file|->            the raw body, byte for byte ("-" reads standard input)
  --header "Name: value"     a request header (repeatable)
  --headers <file>           headers as a JSON object, or "Name: value" lines (curl -D output)
  --method <method>          default POST
  --ingest-url <url>         the URL the provider posted to, query string included (Mandrill signs it;
                             Elastic Email sends its token in it); default http://127.0.0.1:8787/ingest/src_verify
Credentials (the source's config):
  --config <json>            e.g. '{"signing_key": "…"}'
  --set key=value            one config key (repeatable)
  --secret <whsec_…>         shorthand for --set secret=… (standard, resend, loops)
Checks:
  --at <time>                verify as of this time (ISO 8601 or Unix seconds; default now)
  --tolerance <seconds>      accepted age of a signed timestamp (default 300; 0 turns the check off,
                             for archived requests)
  --json                     {"verified", "reason"?, "events"?, "skipped"?}

Providers: ${providerIds().join(', ')}.
Exit codes: 0 verified (and parsed), 1 not verified or not parseable, 2 usage.

Examples:
  mailhook verify --provider standard --secret whsec_… --body body.json \\
    --header "webhook-id: msg_…" --header "webhook-timestamp: 1614265330" --header "webhook-signature: v1,…"
  mailhook verify --provider sendgrid --set public_key=MFkw… --headers headers.txt --body - --tolerance 0 < body.json
`;

const OPTIONS = {
  provider: { type: 'string' },
  body: { type: 'string' },
  header: { type: 'string', multiple: true },
  headers: { type: 'string' },
  method: { type: 'string' },
  'ingest-url': { type: 'string' },
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  secret: { type: 'string' },
  at: { type: 'string' },
  tolerance: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    if (path !== '-') return await readFile(path);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** `Name: value` lines (an HTTP status line and blank lines are skipped) into lower-cased headers. */
function headerLines(lines: string[], into: Record<string, string>): void {
  for (const line of lines) {
    if (line.trim() === '' || /^HTTP\/\d/i.test(line)) continue;
    const at = line.indexOf(':');
    if (at <= 0) throw new UsageError(`"${line}" is not a "Name: value" header`);
    const name = line.slice(0, at).trim().toLowerCase();
    const value = line.slice(at + 1).trim();
    // Repeated headers are joined as Node joins them for the ingest route.
    into[name] = into[name] === undefined ? value : `${into[name]}, ${value}`;
  }
}

async function headersOf(values: Values): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  const file = typeof values.headers === 'string' ? values.headers : undefined;
  if (file) {
    const text = (await readInput(file, 'headers file')).toString('utf8');
    if (text.trimStart().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new UsageError(`${file}: ${(err as Error).message}`);
      }
      for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
        headers[name.toLowerCase()] = String(value);
      }
    } else headerLines(text.split(/\r?\n/), headers);
  }
  headerLines([values.header ?? []].flat().map(String), headers);
  return headers;
}

function configOf(values: Values): Record<string, unknown> {
  const config: Record<string, unknown> = { ...jsonObjectValue(values, 'config') };
  for (const [name, text] of Object.entries(pairsValue(values, 'set') ?? {})) {
    try {
      config[name] = /^[[{]/.test(text) ? JSON.parse(text) : text;
    } catch {
      config[name] = text;
    }
  }
  if (typeof values.secret === 'string') config.secret = values.secret;
  return config;
}

export async function verifyCommand(args: string[]): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({ args, options: OPTIONS, strict: true }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  const providerId = typeof values.provider === 'string' ? values.provider : undefined;
  if (!providerId || typeof values.body !== 'string')
    throw new UsageError('--provider and --body are required');
  const adapter = findAdapter(providerId);
  if (!adapter) throw new UsageError(`unknown provider "${providerId}"; one of: ${providerIds().join(', ')}`);
  let config: Record<string, unknown>;
  try {
    config = adapter.validateConfig(configOf(values));
  } catch (err) {
    if (err instanceof MailhookError) throw new UsageError(`credentials: ${err.message}`);
    throw err;
  }
  let now = new Date();
  let ingestUrl: URL;
  try {
    if (typeof values.at === 'string') now = parseTime('--at', values.at) as Date;
    ingestUrl = new URL(
      typeof values['ingest-url'] === 'string'
        ? values['ingest-url']
        : 'http://127.0.0.1:8787/ingest/src_verify',
    );
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const tolerance = typeof values.tolerance === 'string' ? Number(values.tolerance) : 300;
  if (!(tolerance >= 0))
    throw new UsageError('--tolerance must be a number of seconds (0 turns the check off)');

  const request: RawRequest = {
    method: typeof values.method === 'string' ? values.method.toUpperCase() : 'POST',
    path: ingestUrl.pathname,
    query: ingestUrl.search.replace(/^\?/, ''),
    headers: await headersOf(values),
    body: await readInput(values.body, 'body'),
    receivedAt: now,
  };
  const source: Source = {
    id: ingestUrl.pathname.split('/').pop() || 'src_verify',
    name: 'mailhook verify',
    provider: adapter.id,
    config,
    enabled: true,
    state: {},
    createdAt: now,
    updatedAt: now,
  };
  const certificates = new SnsCertificates(httpFetcher, process.env.MAILHOOK_SNS_CERT_DIR ?? null);
  const context: VerifyContext = {
    now,
    // As the ingest route does: a provider that retries with old signatures widens the window.
    toleranceSec: tolerance === 0 ? 0 : Math.max(tolerance, adapter.minToleranceSec ?? 0),
    ingestUrl: `${ingestUrl.origin}${ingestUrl.pathname}`,
    snsCertificate: (url) => certificates.get(url, now.getTime()),
    fetch: httpFetcher,
  };

  const verification = await adapter.verify(request, source, context);
  const json = values.json === true;
  if (!verification.ok) {
    if (json) printJson({ verified: false, reason: verification.reason });
    else print(`not verified (${adapter.displayName}): ${verification.reason}`);
    return EXIT_CODES.failure;
  }
  let parsed: ParseResult;
  try {
    parsed = adapter.parse(request);
  } catch (err) {
    const reason = `verified, but the body cannot be parsed: ${(err as Error).message}`;
    if (json) printJson({ verified: true, parsed: false, reason });
    else print(reason);
    return EXIT_CODES.failure;
  }
  if (json) printJson({ verified: true, parsed: true, events: parsed.events, skipped: parsed.skipped });
  else {
    print(`verified (${adapter.displayName}): ${parsed.events.length} event(s)`);
    for (const event of parsed.events) print(`  ${event.type.padEnd(18)} ${event.data.recipient ?? '-'}`);
    for (const item of parsed.skipped) print(`  skipped item ${item.index}: ${item.reason}`);
  }
  return EXIT_CODES.ok;
}
