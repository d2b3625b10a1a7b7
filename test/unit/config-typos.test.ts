import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import {
  editDistance,
  findUnknownVariables,
  knownVariables,
  READ_ELSEWHERE,
  suggestVariable,
  unknownVariableMessage,
  warnUnknownVariables,
} from '../../src/config-typos.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** DESIGN.md's retention variables, for the cases that need them whether or not the table has them yet. */
const WITH_RETENTION = [
  ...knownVariables(),
  'MAILHOOK_RETENTION_EVENTS',
  'MAILHOOK_RETENTION_INBOX',
  'MAILHOOK_RETENTION_ATTEMPTS',
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and swaps of neighbours as one edit each', () => {
    expect(editDistance('RETENTION_EVENTS', 'RETENTION_EVENTS')).toBe(0);
    expect(editDistance('RETENTION_EVENT', 'RETENTION_EVENTS')).toBe(1);
    expect(editDistance('DELIVERY_TIMEOUTS', 'DELIVERY_TIMEOUT')).toBe(1);
    expect(editDistance('MAX_BODI', 'MAX_BODY')).toBe(1);
    expect(editDistance('RETRY_SHCEDULE', 'RETRY_SCHEDULE')).toBe(1);
    expect(editDistance('', 'URL')).toBe(3);
    expect(editDistance('FOO', 'URL')).toBe(3);
  });
});

describe('suggestVariable', () => {
  it('suggests the variable a missing letter was meant to be', () => {
    expect(suggestVariable('MAILHOOK_RETENTION_EVENT', WITH_RETENTION)).toBe('MAILHOOK_RETENTION_EVENTS');
    expect(suggestVariable('MAILHOOK_DELIVERY_TIMOUT')).toBe('MAILHOOK_DELIVERY_TIMEOUT');
    expect(suggestVariable('MAILHOOK_METRIC_TOKEN')).toBe('MAILHOOK_METRICS_TOKEN');
  });

  it('suggests the variable two swapped letters were meant to be', () => {
    expect(suggestVariable('MAILHOOK_RETRY_SHCEDULE')).toBe('MAILHOOK_RETRY_SCHEDULE');
    expect(suggestVariable('MAILHOOK_RETENTION_INBXO', WITH_RETENTION)).toBe('MAILHOOK_RETENTION_INBOX');
  });

  it('picks the closest of several near names', () => {
    expect(suggestVariable('MAILHOOK_RETENTION_ATTEMPT', WITH_RETENTION)).toBe('MAILHOOK_RETENTION_ATTEMPTS');
  });

  it('suggests a setting that has no prefix when the prefix was added to it', () => {
    expect(suggestVariable('MAILHOOK_PORT')).toBe('PORT');
    expect(suggestVariable('MAILHOOK_DATABASE_URL')).toBe('DATABASE_URL');
  });

  it('suggests the variable whose case was wrong', () => {
    expect(suggestVariable('MAILHOOK_log_level')).toBe('MAILHOOK_LOG_LEVEL');
  });

  it('suggests nothing for a name that shares only the prefix with the known ones', () => {
    // Whole names, MAILHOOK_XYZ is 3 edits from MAILHOOK_URL out of 12 characters; the parts that
    // differ have nothing in common.
    expect(editDistance('MAILHOOK_XYZ', 'MAILHOOK_URL')).toBe(3);
    expect(suggestVariable('MAILHOOK_XYZ')).toBeNull();
    expect(suggestVariable('MAILHOOK_')).toBeNull();
  });

  it('suggests nothing for a name far from every known one', () => {
    expect(suggestVariable('MAILHOOK_COLOUR_THEME', WITH_RETENTION)).toBeNull();
    expect(suggestVariable('MAILHOOK_RETENTION', WITH_RETENTION)).toBeNull();
    // The `_FILE` convention of container images is not supported: the name is unknown, not a typo.
    expect(suggestVariable('MAILHOOK_API_KEY_FILE')).toBeNull();
  });
});

describe('findUnknownVariables', () => {
  it('flags each unknown MAILHOOK_ variable, in name order, with its suggestion', () => {
    const env = {
      MAILHOOK_SILENCE_MINN: '1h',
      MAILHOOK_RETENTION_EVENT: '7d',
      MAILHOOK_COLOUR_THEME: 'dark',
      MAILHOOK_LOG_LEVEL: 'info',
    };
    expect(findUnknownVariables(env, { known: WITH_RETENTION })).toEqual([
      { name: 'MAILHOOK_COLOUR_THEME', suggestion: null },
      { name: 'MAILHOOK_RETENTION_EVENT', suggestion: 'MAILHOOK_RETENTION_EVENTS' },
      { name: 'MAILHOOK_SILENCE_MINN', suggestion: 'MAILHOOK_SILENCE_MIN' },
    ]);
  });

  it('never flags a known variable: the whole configuration table and the ones read elsewhere', () => {
    const env = Object.fromEntries(knownVariables().map((name) => [name, 'x']));
    expect(Object.keys(env)).toEqual(expect.arrayContaining(Object.keys(VARIABLES)));
    expect(Object.keys(env)).toEqual(expect.arrayContaining(Object.keys(READ_ELSEWHERE)));
    expect(findUnknownVariables(env)).toEqual([]);
  });

  it("never flags the test suite's and the benchmarks' own variables", () => {
    const env = {
      MAILHOOK_TEST_OUTER_TMPDIR: '/tmp/x',
      MAILHOOK_TEST_RUN_DIR: '/tmp/x/run',
      MAILHOOK_TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      MAILHOOK_TEST_SEED: '42',
      MAILHOOK_TEST_KEEP_TMP: '1',
      MAILHOOK_BENCH_PROFILE: '/tmp/profiles',
      MAILHOOK_BENCH_SERVER_ENV: '{}',
    };
    expect(findUnknownVariables(env)).toEqual([]);
  });

  it('leaves variables without the MAILHOOK_ prefix alone', () => {
    expect(findUnknownVariables({ PATH: '/usr/bin', HOSTT: 'x', MAILHOOKS_URL: 'x', NODE_ENV: 'x' })).toEqual(
      [],
    );
  });

  it('flags a wrong case where variables are case-sensitive, and not where they are not (Windows)', () => {
    const env = { MAILHOOK_log_level: 'debug' };
    expect(findUnknownVariables(env, { caseSensitive: true })).toEqual([
      { name: 'MAILHOOK_log_level', suggestion: 'MAILHOOK_LOG_LEVEL' },
    ]);
    expect(findUnknownVariables(env, { caseSensitive: false })).toEqual([]);
  });

  it('knows every MAILHOOK_ variable that code under src/ reads from an environment', () => {
    const read = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\benv(?:\.|\[\s*['"`])(MAILHOOK_[A-Z0-9_]+)/g)) read.add(match[1]!);
    }
    // The scan finds something: a pattern that matched nothing would make this test pass forever.
    expect(read).toContain('MAILHOOK_URL');
    expect(read).toContain('MAILHOOK_FAULT_INJECTION');
    expect([...read].filter((name) => !knownVariables().includes(name))).toEqual([]);
  });
});

describe('warnUnknownVariables', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    return { lines, logger: pino({ level: 'info' }, stream) };
  }

  it('logs one warning per unknown variable, naming it and its suggestion but never its value', () => {
    const { lines, logger } = capture();
    warnUnknownVariables(
      {
        MAILHOOK_API_KYE: 'mh_secret-value-0123456789',
        MAILHOOK_COLOUR_THEME: 'dark',
        MAILHOOK_TEST_RUN_DIR: '/tmp/run',
        MAILHOOK_PORT: '9000',
      },
      logger,
    );
    expect(lines).toMatchObject([
      {
        level: 40,
        variable: 'MAILHOOK_API_KYE',
        suggestion: 'MAILHOOK_API_KEY',
        msg: 'unknown setting MAILHOOK_API_KYE (ignored); did you mean MAILHOOK_API_KEY?',
      },
      {
        level: 40,
        variable: 'MAILHOOK_COLOUR_THEME',
        msg: 'unknown setting MAILHOOK_COLOUR_THEME (ignored); "mailhook --help" lists the settings',
      },
      {
        level: 40,
        variable: 'MAILHOOK_PORT',
        suggestion: 'PORT',
        msg: 'unknown setting MAILHOOK_PORT (ignored); did you mean PORT?',
      },
    ]);
    expect(lines).toHaveLength(3);
    expect(lines[1]).not.toHaveProperty('suggestion');
    expect(JSON.stringify(lines)).not.toContain('secret-value');
  });

  it('logs nothing when every variable is known', () => {
    const { lines, logger } = capture();
    warnUnknownVariables({ MAILHOOK_LOG_LEVEL: 'info', MAILHOOK_URL: 'http://127.0.0.1:8787' }, logger);
    expect(lines).toEqual([]);
  });

  it('words the warning as the name and its replacement', () => {
    expect(
      unknownVariableMessage({ name: 'MAILHOOK_RETENTION_EVENT', suggestion: 'MAILHOOK_RETENTION_EVENTS' }),
    ).toBe('unknown setting MAILHOOK_RETENTION_EVENT (ignored); did you mean MAILHOOK_RETENTION_EVENTS?');
  });
});
