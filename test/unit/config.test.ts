import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeVariables,
  loadConfig,
  parseDurationMs,
  parseSizeBytes,
  VARIABLES,
} from '../../src/config.js';

describe('loadConfig', () => {
  it('applies every default from DESIGN.md when nothing is set', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 8787,
      dataDir: '/srv/app/data',
      databaseUrl: null,
      apiKey: null,
      publicUrl: null,
      retryScheduleMs: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      deliveryTimeoutMs: 15_000,
      disableAfterMs: 5 * 86_400_000,
      deliveryConcurrency: 200,
      softBounceLimit: 3,
      softBounceWindowMs: 7 * 86_400_000,
      metricsToken: null,
      failingAfter: 5,
      silenceMinMs: 15 * 60_000,
      readyMaxBacklogMs: 5 * 60_000,
      reconcileEveryMs: 0,
      retention: { eventsMs: 90 * 86_400_000, inboxMs: 30 * 86_400_000, attemptsMs: 30 * 86_400_000 },
      allowPrivateTargets: false,
      inlineProcessing: true,
      signatureToleranceSec: 300,
      snsCertDir: null,
      maxBodyBytes: 5 * 1024 * 1024,
      maxConnections: 10_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        HOST: '0.0.0.0',
        PORT: '9000',
        MAILHOOK_DATA_DIR: '/var/lib/mailhook',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        MAILHOOK_API_KEY: 'k'.repeat(20),
        MAILHOOK_PUBLIC_URL: 'https://hooks.example.com/',
        MAILHOOK_RETRY_SCHEDULE: '1s, 2m',
        MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        MAILHOOK_SIGNATURE_TOLERANCE: '0',
        MAILHOOK_SNS_CERT_DIR: 'certs',
        MAILHOOK_MAX_BODY: '10mb',
        MAILHOOK_MAX_CONNECTIONS: '20000',
        MAILHOOK_HEADERS_TIMEOUT: '20s',
        MAILHOOK_KEEP_ALIVE_TIMEOUT: '75s',
        MAILHOOK_LOG_LEVEL: 'DEBUG',
      },
      '/srv',
    );
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/mailhook',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      publicUrl: 'https://hooks.example.com',
      retryScheduleMs: [1000, 120_000],
      allowPrivateTargets: true,
      signatureToleranceSec: 0,
      snsCertDir: '/srv/certs',
      maxBodyBytes: 10 * 1024 * 1024,
      maxConnections: 20_000,
      headersTimeoutMs: 20_000,
      keepAliveTimeoutMs: 75_000,
      logLevel: 'debug',
    });
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['MAILHOOK_SIGNATURE_TOLERANCE', 'soon'],
    ['MAILHOOK_RETRY_SCHEDULE', '1s,,5m'],
    ['MAILHOOK_RETRY_SCHEDULE', '1s,x'],
    ['MAILHOOK_ALLOW_PRIVATE_TARGETS', 'maybe'],
    ['MAILHOOK_MAX_BODY', 'huge'],
    ['MAILHOOK_MAX_BODY', '10'],
    ['MAILHOOK_LOG_LEVEL', 'loud'],
    ['MAILHOOK_DELIVERY_TIMEOUT', '0'],
    ['MAILHOOK_DELIVERY_TIMEOUT', '10ms'],
    ['MAILHOOK_DISABLE_AFTER', 'never'],
    ['MAILHOOK_DELIVERY_CONCURRENCY', '0'],
    ['MAILHOOK_API_KEY', 'short'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['DATABASE_URL', 'not a url'],
    ['MAILHOOK_PUBLIC_URL', 'ftp://example.com'],
    ['MAILHOOK_MAX_CONNECTIONS', '0'],
    ['MAILHOOK_MAX_CONNECTIONS', 'many'],
    ['MAILHOOK_HEADERS_TIMEOUT', '0'],
    ['MAILHOOK_HEADERS_TIMEOUT', '10ms'],
    ['MAILHOOK_KEEP_ALIVE_TIMEOUT', '0'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${value} with a message naming the variable and an example`, () => {
      let error: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message.startsWith(`${name}:`)).toBe(true);
      expect(message).toContain(`Example of a valid value: ${name}=`);
    });
  }

  it('processes in the ingest commit by default on SQLite only, and as told on either store', () => {
    const pg = { DATABASE_URL: 'postgres://mailhook@127.0.0.1/mailhook' };
    expect(loadConfig({}).inlineProcessing).toBe(true);
    expect(loadConfig(pg).inlineProcessing).toBe(false);
    expect(loadConfig({ MAILHOOK_INLINE_PROCESSING: 'AUTO' }).inlineProcessing).toBe(true);
    expect(loadConfig({ ...pg, MAILHOOK_INLINE_PROCESSING: 'true' }).inlineProcessing).toBe(true);
    expect(loadConfig({ MAILHOOK_INLINE_PROCESSING: 'false' }).inlineProcessing).toBe(false);
    expect(() => loadConfig({ MAILHOOK_INLINE_PROCESSING: 'sometimes' })).toThrow(ConfigError);
  });

  it('never prints the password of a bad DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' })).toThrow(/^(?!.*hunter2)/s);
  });

  it('rounds a sub-second signature tolerance up rather than turning the check off', () => {
    expect(loadConfig({ MAILHOOK_SIGNATURE_TOLERANCE: '500ms' }).signatureToleranceSec).toBe(1);
  });
});

describe('duration and size parsing', () => {
  it('parses durations with units and a bare zero', () => {
    expect(parseDurationMs('0')).toBe(0);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('10h')).toBe(36_000_000);
    expect(parseDurationMs('1d')).toBe(86_400_000);
    expect(parseDurationMs('5')).toBeNull();
    expect(parseDurationMs('-5s')).toBeNull();
  });

  it('parses sizes', () => {
    expect(parseSizeBytes('512kb')).toBe(524_288);
    expect(parseSizeBytes('5MB')).toBe(5_242_880);
    expect(parseSizeBytes('1024')).toBe(1024);
    expect(parseSizeBytes('lots')).toBeNull();
  });

  it('describes every variable for --help', () => {
    const text = describeVariables();
    for (const name of Object.keys(VARIABLES)) expect(text).toContain(name);
  });
});
