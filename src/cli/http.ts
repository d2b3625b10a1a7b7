import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DEFAULT_URL, MailhookApiError, MailhookClient, MailhookConnectionError } from '../client/index.js';
import { UsageError } from './usage.js';

/**
 * What every command that talks to a running server shares: where the server is (`--url`,
 * `MAILHOOK_URL`), the key (`--key`, `MAILHOOK_API_KEY`), `--json`, `--help`, subcommand dispatch,
 * and exit codes that scripts can test.
 */

export const EXIT_CODES = { ok: 0, failure: 1, usage: 2, notFound: 3, unauthorized: 4 } as const;

export const CONNECTION_HELP = `Connection (every command):
  --url <url>   server base URL (default: $MAILHOOK_URL, else ${DEFAULT_URL})
  --key <key>   API key (default: $MAILHOOK_API_KEY)
  --json        machine-readable JSON on stdout
  -h, --help    this help

Exit codes: 0 ok, 1 failure, 2 usage or invalid request, 3 not found, 4 unauthorized.
`;

type Options = NonNullable<ParseArgsConfig['options']>;

const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface Invocation {
  values: Values;
  positionals: string[];
  json: boolean;
  client: MailhookClient;
}

export interface Subcommand {
  /** One line for the resource's help. */
  summary: string;
  /** The subcommand's own help: usage, options, examples. */
  help: string;
  options?: Options;
  run(call: Invocation): Promise<number>;
}

export function clientFrom(values: Values, env: NodeJS.ProcessEnv = process.env): MailhookClient {
  const url = (values.url as string | undefined) ?? env.MAILHOOK_URL ?? DEFAULT_URL;
  const apiKey = (values.key as string | undefined) ?? env.MAILHOOK_API_KEY;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL (example: http://127.0.0.1:8787)`);
  }
  // Every command here calls /v1, which needs a key: said before any request, instead of the
  // server's answer about an Authorization header the user never wrote.
  if (!apiKey) throw new UsageError('no API key: set MAILHOOK_API_KEY or pass --key');
  return new MailhookClient({ url, apiKey });
}

/** Maps what went wrong onto an exit code and prints it on stderr. */
export function reportError(label: string, err: unknown): number {
  if (err instanceof MailhookApiError) {
    const hint = err.status === 401 ? ' (set MAILHOOK_API_KEY or pass --key)' : '';
    process.stderr.write(`mailhook ${label}: ${err.code}: ${err.message}${hint}\n`);
    if (err.status === 401 || err.status === 403) return EXIT_CODES.unauthorized;
    if (err.status === 404) return EXIT_CODES.notFound;
    // The server refused the arguments as given: the caller's to fix, like a usage error.
    if (err.status >= 400 && err.status < 500) return EXIT_CODES.usage;
    return EXIT_CODES.failure;
  }
  if (err instanceof MailhookConnectionError) {
    process.stderr.write(`mailhook ${label}: ${err.message}\n`);
    return EXIT_CODES.failure;
  }
  throw err;
}

function parse(args: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...CONNECTION_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (err) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((err as Error).message);
    throw err;
  }
}

/** `mailhook <resource> <subcommand> [options]`: dispatch, parse, run, map errors to exit codes. */
export async function runResource(
  resource: string,
  intro: string,
  subcommands: Record<string, Subcommand>,
  args: string[],
): Promise<number> {
  const [name, ...rest] = args;
  const help = () =>
    `${intro}\nSubcommands:\n${Object.entries(subcommands)
      .map(([sub, s]) => `  ${sub.padEnd(9)} ${s.summary}`)
      .join(
        '\n',
      )}\n\n"mailhook ${resource} <subcommand> --help" shows its options and examples.\n\n${CONNECTION_HELP}`;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  const sub = subcommands[name];
  if (!sub)
    throw new UsageError(`unknown subcommand "${name}"; one of: ${Object.keys(subcommands).join(', ')}`);
  const { values, positionals } = parse(rest, sub.options ?? {});
  if (values.help) {
    process.stdout.write(`${sub.help}\n${CONNECTION_HELP}`);
    return EXIT_CODES.ok;
  }
  const client = clientFrom(values);
  try {
    return await sub.run({ values, positionals, json: values.json === true, client });
  } catch (err) {
    return reportError(`${resource} ${name}`, err);
  }
}

/** A command without subcommands (`replay`, `apply`), with the same options and error mapping. */
export async function runSingle(label: string, sub: Subcommand, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, sub.options ?? {});
  if (values.help) {
    process.stdout.write(`${sub.help}\n${CONNECTION_HELP}`);
    return EXIT_CODES.ok;
  }
  const client = clientFrom(values);
  try {
    return await sub.run({ values, positionals, json: values.json === true, client });
  } catch (err) {
    return reportError(label, err);
  }
}

/** The single positional argument a subcommand needs (an id, an address). */
export function onePositional(positionals: string[], what: string): string {
  const [value, ...extra] = positionals;
  if (value === undefined) throw new UsageError(`missing ${what}`);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  return value;
}

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function listValue(values: Values, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return [value]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function numberValue(values: Values, name: string): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number`);
  return value;
}

/** `--config '{"public_key": "…"}'` and/or repeated `--set key=value`, merged in that order. */
export function jsonObjectValue(values: Values, name: string): Record<string, unknown> | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${name} must be JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`--${name} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Repeated `--<name> key=value` pairs. */
export function pairsValue(values: Values, name: string): Record<string, string> | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const pair of [raw].flat().map(String)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--${name} takes key=value (got "${pair}")`);
    result[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return result;
}
