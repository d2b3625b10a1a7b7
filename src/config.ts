import { resolve } from 'node:path';

/**
 * Configuration comes from environment variables only. Every variable has its default in the one
 * object below (the README's table is written from it); `loadConfig` validates all of them at start
 * and throws a ConfigError naming the variable and showing a valid example.
 */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | null;
  apiKey: string | null;
  /** Null: derived from the address the server listens on. */
  publicUrl: string | null;
  retryScheduleMs: number[];
  deliveryTimeoutMs: number;
  disableAfterMs: number;
  deliveryConcurrency: number;
  softBounceLimit: number;
  softBounceWindowMs: number;
  metricsToken: string | null;
  failingAfter: number;
  silenceMinMs: number;
  readyMaxBacklogMs: number;
  allowPrivateTargets: boolean;
  /** Process ingest groups in their own commit when caught up (PipelineRunner.append). */
  inlineProcessing: boolean;
  /** Scheduled reconciliation runs, in ms; 0: off (src/reconcile/scheduler.ts). */
  reconcileEveryMs: number;
  /** How long each kind of row is kept, in ms; 0 keeps it forever (src/store/retention.ts). */
  retention: { eventsMs: number; inboxMs: number; attemptsMs: number };
  signatureToleranceSec: number;
  snsCertDir: string | null;
  maxBodyBytes: number;
  /** Connections held at once; see src/http/limits.ts for what happens past it. */
  maxConnections: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  logLevel: string;
}

interface VariableSpec {
  default: string;
  example: string;
  meaning: string;
}

export const VARIABLES = {
  HOST: { default: '127.0.0.1', example: '0.0.0.0', meaning: 'address the server listens on' },
  PORT: { default: '8787', example: '8787', meaning: 'port the server listens on' },
  MAILHOOK_DATA_DIR: {
    default: './data',
    example: '/var/lib/mailhook',
    meaning: 'directory of the SQLite database and local files',
  },
  DATABASE_URL: {
    default: '',
    example: 'postgres://postgres@127.0.0.1:5432/mailhook',
    meaning: 'postgres://… switches storage to PostgreSQL',
  },
  MAILHOOK_API_KEY: {
    default: '',
    example: 'mh_4f3c…(at least 16 characters)',
    meaning: 'admin key for /v1/*; when unset one is generated on first start and printed once',
  },
  MAILHOOK_PUBLIC_URL: {
    default: '',
    example: 'https://hooks.example.com',
    meaning: 'base URL providers reach mailhook at (ingest URLs are built from it); default http://HOST:PORT',
  },
  MAILHOOK_RETRY_SCHEDULE: {
    default: '0s,5s,5m,30m,2h,5h,10h,10h',
    example: '0s,5s,5m,30m,2h,5h,10h,10h',
    meaning: 'delays between delivery attempts',
  },
  MAILHOOK_DELIVERY_TIMEOUT: {
    default: '15s',
    example: '30s',
    meaning: 'how long one delivery attempt may take (connect, headers and body)',
  },
  MAILHOOK_DISABLE_AFTER: {
    default: '5d',
    example: '3d',
    meaning: 'an endpoint with nothing but failures for this long is disabled; 0 never disables',
  },
  MAILHOOK_DELIVERY_CONCURRENCY: {
    default: '200',
    example: '500',
    meaning: 'deliveries in flight at once across all endpoints (each endpoint also has its own cap)',
  },
  MAILHOOK_SOFT_BOUNCE_LIMIT: {
    default: '3',
    example: '5',
    meaning: 'soft bounces that suppress an address (within the window, with no delivery in between)',
  },
  MAILHOOK_SOFT_BOUNCE_WINDOW: {
    default: '7d',
    example: '14d',
    meaning: 'the window in which soft bounces are counted',
  },
  MAILHOOK_METRICS_TOKEN: {
    default: '',
    example: 'a-long-random-token',
    meaning: 'when set, /metrics requires Authorization: Bearer <token>',
  },
  MAILHOOK_FAILING_AFTER: {
    default: '5',
    example: '3',
    meaning:
      'consecutive failed attempts after which an endpoint raises system.endpoint.failing; as many successes in a row, over at least a minute, raise recovered',
  },
  MAILHOOK_SILENCE_MIN: {
    default: '15m',
    example: '1h',
    meaning:
      'shortest silence that raises system.source.silent (a source learns its usual gap; silent = 10 gaps)',
  },
  MAILHOOK_READY_MAX_BACKLOG: {
    default: '5m',
    example: '15m',
    meaning: '/readyz fails while the oldest unprocessed inbox row is older than this; 0 never',
  },
  MAILHOOK_ALLOW_PRIVATE_TARGETS: {
    default: 'false',
    example: 'true',
    meaning: 'let endpoints point at private/loopback addresses',
  },
  MAILHOOK_INLINE_PROCESSING: {
    default: 'auto',
    example: 'false',
    meaning:
      'process an ingest group in the commit that stores it when the pipeline is caught up (one commit instead of two); auto: on with SQLite, off with PostgreSQL (see docs/benchmarks.md)',
  },
  MAILHOOK_RETENTION_EVENTS: {
    default: '90d',
    example: '30d',
    meaning:
      'events are deleted this long after their timestamp (not while a delivery of theirs is pending); 0 keeps them forever',
  },
  MAILHOOK_RETENTION_INBOX: {
    default: '30d',
    example: '7d',
    meaning:
      'raw requests are deleted this long after they arrived once processed (quarantined ones after the events retention, pending ones never); 0 keeps them forever',
  },
  MAILHOOK_RETENTION_ATTEMPTS: {
    default: '30d',
    example: '7d',
    meaning:
      'delivery attempts and finished deliveries are deleted this long after they were made; 0 keeps them forever',
  },
  MAILHOOK_RECONCILE_EVERY: {
    default: '0',
    example: '1h',
    meaning:
      "read every source's recent events back from its provider's API this often (sources with config.api_key; docs/reconciliation.md); 0 only after downtime and silences",
  },
  MAILHOOK_SIGNATURE_TOLERANCE: {
    default: '5m',
    example: '10m',
    meaning: "accepted age of a provider's signed timestamp; 0 turns the freshness check off",
  },
  MAILHOOK_SNS_CERT_DIR: {
    default: '',
    example: '/etc/mailhook/sns-certs',
    meaning: 'pre-seeded SNS signing certificates for hosts without internet access',
  },
  MAILHOOK_MAX_BODY: {
    default: '5mb',
    example: '10mb',
    meaning: 'largest ingest request body accepted (larger → 413)',
  },
  MAILHOOK_MAX_CONNECTIONS: {
    default: '10000',
    example: '20000',
    meaning:
      'client connections held at once; past it the least recently active idle one is closed, or the new one is answered 503 if none is idle (lowered at start to fit the open-file limit)',
  },
  MAILHOOK_HEADERS_TIMEOUT: {
    default: '10s',
    example: '20s',
    meaning: 'a connection that has not sent its request headers this long after opening is closed',
  },
  MAILHOOK_KEEP_ALIVE_TIMEOUT: {
    default: '5s',
    example: '75s',
    meaning:
      "an idle keep-alive connection is closed after this long; behind a proxy that reuses connections, set it above the proxy's idle timeout",
  },
  MAILHOOK_LOG_LEVEL: {
    default: 'info',
    example: 'debug',
    meaning: 'log level: fatal, error, warn, info, debug, trace or silent',
  },
  MAILHOOK_CONFIG: {
    default: '',
    example: './mailhook.yaml',
    meaning: `a YAML or JSON file of sources and endpoints applied at start: created or updated by name, deleted only with "prune": true; \${VAR} in values is read from the environment`,
  },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof VARIABLES;

export class ConfigError extends Error {
  readonly variable: VariableName;

  constructor(variable: VariableName, problem: string) {
    super(`${variable}: ${problem}. Example of a valid value: ${variable}=${VARIABLES[variable].example}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `5s`, `5m`, `2h`, `1d` (and a bare `0`) into milliseconds; null when invalid. */
export function parseDurationMs(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]);
  const unit = match[2];
  if (unit === undefined) return value === 0 ? 0 : null;
  return Math.round(value * (DURATION_UNITS[unit] ?? Number.NaN));
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses `5mb`, `512kb`, `1048576` into bytes; null when invalid. */
export function parseSizeBytes(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? 'b').toLowerCase();
  return Math.floor(Number(match[1]) * (SIZE_UNITS[unit] ?? Number.NaN));
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

type Env = Record<string, string | undefined>;

function read(env: Env, name: VariableName): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? VARIABLES[name].default : value.trim();
}

function readPort(env: Env): number {
  const text = read(env, 'PORT');
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new ConfigError('PORT', `"${text}" is not a port number (0–65535)`);
  return port;
}

function readBoolean(env: Env, name: VariableName): boolean {
  const text = read(env, name).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(name, `"${text}" is not a boolean (true or false)`);
}

/**
 * `auto` (the default) processes in the ingest commit on SQLite only: measured side by side, it halves
 * the commits and stores a request once there, while on PostgreSQL the commit's extra round trips cut
 * the ack rate by half (docs/benchmarks.md#processing-in-the-ingest-commit).
 */
function readInlineProcessing(env: Env, databaseUrl: string | null): boolean {
  const name = 'MAILHOOK_INLINE_PROCESSING';
  if (read(env, name).toLowerCase() === 'auto') return databaseUrl === null;
  return readBoolean(env, name);
}

function readDurationSec(env: Env, name: VariableName): number {
  const text = read(env, name);
  const ms = parseDurationMs(text);
  if (ms === null) throw new ConfigError(name, `"${text}" is not a duration such as 30s, 5m or 2h`);
  // Rounded up: a sub-second tolerance must not become 0, which turns the check off.
  return Math.ceil(ms / 1000);
}

/** The shortest retention accepted: the pruner's cadence is a fraction of it (src/retention/pruner.ts). */
const RETENTION_MIN_MS = 60_000;

function readDurationMs(env: Env, name: VariableName, min: number, zeroAllowed: boolean): number {
  const text = read(env, name);
  const ms = parseDurationMs(text);
  if (ms === null || (ms < min && !(zeroAllowed && ms === 0))) {
    throw new ConfigError(name, `"${text}" is not a duration of at least ${min} ms such as 30s, 5m or 2h`);
  }
  return ms;
}

function readPositiveInt(env: Env, name: VariableName): number {
  const text = read(env, name);
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1)
    throw new ConfigError(name, `"${text}" is not a positive whole number`);
  return value;
}

function readRetrySchedule(env: Env): number[] {
  const text = read(env, 'MAILHOOK_RETRY_SCHEDULE');
  const parts = text.split(',').map((part) => part.trim());
  const delays = parts.map(parseDurationMs);
  if (parts.length === 0 || delays.some((d) => d === null)) {
    throw new ConfigError('MAILHOOK_RETRY_SCHEDULE', `"${text}" is not a comma-separated list of durations`);
  }
  return delays as number[];
}

function readUrl(env: Env, name: VariableName, protocols: string[]): string | null {
  const text = read(env, name);
  if (text === '') return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, `"${redactUrl(text)}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `"${url.protocol}" is not one of ${protocols.join(', ')}`);
  }
  return text;
}

/** Hides the password of a connection string so config errors never print it. */
function redactUrl(text: string): string {
  return text.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const host = read(env, 'HOST');
  const port = readPort(env);

  const apiKey = read(env, 'MAILHOOK_API_KEY');
  if (apiKey !== '' && apiKey.length < 16) {
    throw new ConfigError('MAILHOOK_API_KEY', 'must be at least 16 characters long');
  }

  const maxBodyText = read(env, 'MAILHOOK_MAX_BODY');
  const maxBodyBytes = parseSizeBytes(maxBodyText);
  if (maxBodyBytes === null || maxBodyBytes < 1024) {
    throw new ConfigError('MAILHOOK_MAX_BODY', `"${maxBodyText}" is not a size of at least 1kb`);
  }

  const logLevel = read(env, 'MAILHOOK_LOG_LEVEL').toLowerCase();
  if (!LOG_LEVELS.has(logLevel)) {
    throw new ConfigError('MAILHOOK_LOG_LEVEL', `"${logLevel}" is not a log level`);
  }

  const publicUrl = readUrl(env, 'MAILHOOK_PUBLIC_URL', ['http:', 'https:']);
  const snsCertDir = read(env, 'MAILHOOK_SNS_CERT_DIR');
  const databaseUrl = readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);

  return {
    host,
    port,
    dataDir: resolve(cwd, read(env, 'MAILHOOK_DATA_DIR')),
    databaseUrl,
    apiKey: apiKey === '' ? null : apiKey,
    publicUrl: publicUrl === null ? null : publicUrl.replace(/\/+$/, ''),
    retryScheduleMs: readRetrySchedule(env),
    deliveryTimeoutMs: readDurationMs(env, 'MAILHOOK_DELIVERY_TIMEOUT', 100, false),
    disableAfterMs: readDurationMs(env, 'MAILHOOK_DISABLE_AFTER', 1000, true),
    deliveryConcurrency: readPositiveInt(env, 'MAILHOOK_DELIVERY_CONCURRENCY'),
    softBounceLimit: readPositiveInt(env, 'MAILHOOK_SOFT_BOUNCE_LIMIT'),
    softBounceWindowMs: readDurationMs(env, 'MAILHOOK_SOFT_BOUNCE_WINDOW', 60_000, false),
    metricsToken: read(env, 'MAILHOOK_METRICS_TOKEN') || null,
    failingAfter: readPositiveInt(env, 'MAILHOOK_FAILING_AFTER'),
    silenceMinMs: readDurationMs(env, 'MAILHOOK_SILENCE_MIN', 1000, false),
    readyMaxBacklogMs: readDurationMs(env, 'MAILHOOK_READY_MAX_BACKLOG', 1000, true),
    allowPrivateTargets: readBoolean(env, 'MAILHOOK_ALLOW_PRIVATE_TARGETS'),
    inlineProcessing: readInlineProcessing(env, databaseUrl),
    reconcileEveryMs: readDurationMs(env, 'MAILHOOK_RECONCILE_EVERY', 60_000, true),
    retention: {
      eventsMs: readDurationMs(env, 'MAILHOOK_RETENTION_EVENTS', RETENTION_MIN_MS, true),
      inboxMs: readDurationMs(env, 'MAILHOOK_RETENTION_INBOX', RETENTION_MIN_MS, true),
      attemptsMs: readDurationMs(env, 'MAILHOOK_RETENTION_ATTEMPTS', RETENTION_MIN_MS, true),
    },
    signatureToleranceSec: readDurationSec(env, 'MAILHOOK_SIGNATURE_TOLERANCE'),
    snsCertDir: snsCertDir === '' ? null : resolve(cwd, snsCertDir),
    maxBodyBytes,
    maxConnections: readPositiveInt(env, 'MAILHOOK_MAX_CONNECTIONS'),
    headersTimeoutMs: readDurationMs(env, 'MAILHOOK_HEADERS_TIMEOUT', 100, false),
    keepAliveTimeoutMs: readDurationMs(env, 'MAILHOOK_KEEP_ALIVE_TIMEOUT', 100, false),
    logLevel,
  };
}

/** The variables, their defaults and meanings, as the CLI's `--help` prints them. */
export function describeVariables(): string {
  const width = Math.max(...Object.keys(VARIABLES).map((name) => name.length));
  return Object.entries(VARIABLES)
    .map(([name, spec]) => {
      const def = spec.default === '' ? 'unset' : spec.default;
      return `  ${name.padEnd(width)}  ${spec.meaning} (default: ${def})`;
    })
    .join('\n');
}
