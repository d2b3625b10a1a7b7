import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  e2eEnv,
  freePort,
  killAll,
  removeDir,
  runCli,
  type ServerProcess,
  startServer,
  tempDataDir,
} from '../helpers/process.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

const EXIT_CONFIG = 78;
const EXIT_USAGE = 2;

let dataDir: string;

beforeAll(() => {
  dataDir = tempDataDir();
});

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  removeDir(dataDir);
});

describe('starting with a bad configuration value fails fast with a clear message', () => {
  const cases = [
    { variable: 'PORT', value: 'notaport' },
    { variable: 'MAILHOOK_SIGNATURE_TOLERANCE', value: 'soon' },
    { variable: 'MAILHOOK_RETRY_SCHEDULE', value: '1s,x' },
  ];

  for (const { variable, value } of cases) {
    it(`exits with code 78 and names ${variable} when it is "${value}"`, async () => {
      // A free port, so that only the variable under test is wrong (and PORT's own case overrides it).
      const port = String(await freePort());
      const env = e2eEnv(dataDir, { HOST: '127.0.0.1', PORT: port, [variable]: value });

      const result = await runCli(['serve'], env, 10_000);

      expect(result.signal, `killed instead of exiting; stderr:\n${result.stderr}`).toBeNull();
      expect(result.code, result.stderr).toBe(EXIT_CONFIG);
      expect(result.ms).toBeLessThan(5000);
      expect(result.stderr).toContain(variable);
      expect(result.stderr).toContain(value);
      expect(result.stderr).toContain('Example');
      // A configuration error is one clear line, not a stack trace.
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }
});

describe('a server that cannot listen exits at once, naming the address', () => {
  it('exits with code 78 and names the address and PORT when the port is in use', async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const result = await runCli(
        ['serve'],
        e2eEnv(dataDir, { HOST: '127.0.0.1', PORT: String(port) }),
        20_000,
      );
      expect(result.signal, `killed instead of exiting; stderr:\n${result.stderr}`).toBeNull();
      expect(result.code, result.stderr).toBe(EXIT_CONFIG);
      expect(result.stderr).toContain(`127.0.0.1:${port} is already in use`);
      expect(result.stderr).toContain('PORT');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('exits with code 78 and names HOST when the host does not resolve', async () => {
    const port = String(await freePort());
    const env = e2eEnv(dataDir, { HOST: 'no-such-host.invalid', PORT: port });
    const result = await runCli(['serve'], env, 20_000);
    expect(result.signal, `killed instead of exiting; stderr:\n${result.stderr}`).toBeNull();
    expect(result.code, result.stderr).toBe(EXIT_CONFIG);
    expect(result.stderr).toContain('cannot listen on "no-such-host.invalid"');
    expect(result.stderr).toContain('HOST');
  });
});

describe('the command line', () => {
  it('prints its help, listing the environment variables, and exits 0 for --help', async () => {
    const result = await runCli(['--help'], e2eEnv(dataDir));

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Usage: mailhook');
    expect(result.stdout).toContain('MAILHOOK_DATA_DIR');
    expect(result.stdout).toContain('MAILHOOK_SIGNATURE_TOLERANCE');
  });

  it('refuses an unknown command with exit code 2 and says which command it did not know', async () => {
    const result = await runCli(['frobnicate'], e2eEnv(dataDir));

    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });
});

/**
 * Starts a server with the given MAILHOOK_SIGNATURE_TOLERANCE and posts a correctly signed SendGrid
 * batch whose signed timestamp is an hour old. Returns the answer, or 'refused at start' when the
 * server rejected the value as a configuration error (exit 78).
 */
async function answerToHourOldSignature(tolerance: string): Promise<number | 'refused at start'> {
  const dir = tempDataDir();
  let server: ServerProcess | undefined;
  try {
    try {
      server = await startServer({ dataDir: dir, env: { MAILHOOK_SIGNATURE_TOLERANCE: tolerance } });
    } catch (err) {
      if (String(err).includes('exited (code 78')) return 'refused at start';
      throw err;
    }
    const signer = sendGridSigner();
    const created = await api<{ ingest_url: string }>(server.url, '/v1/sources', {
      method: 'POST',
      body: { name: 'tolerance', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    expect(created.status).toBe(201);
    const body = sendGridBody(sendGridEvents(1));
    const anHourAgo = Math.floor(Date.now() / 1000) - 3600;
    const response = await fetch(created.body.ingest_url, {
      method: 'POST',
      headers: signer.headers(body, anHourAgo),
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } finally {
    await server?.stop();
    removeDir(dir);
  }
}

describe('MAILHOOK_SIGNATURE_TOLERANCE', () => {
  it('refuses a signature an hour old when the tolerance is 1s', async () => {
    expect(await answerToHourOldSignature('1s')).toBe(401);
  });

  it('never turns the freshness check off for a sub-second tolerance such as 500ms', async () => {
    // Only "0" is documented to turn the check off; 500ms must be refused at start or enforced.
    const answer = await answerToHourOldSignature('500ms');
    expect(
      ['refused at start', 401],
      '500ms is floored to 0 seconds, which disables the freshness check (an hour-old signature was accepted)',
    ).toContain(answer);
  });
});
