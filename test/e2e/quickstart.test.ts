import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  childEnv,
  freePort,
  killAll,
  REPO_ROOT,
  removeDir,
  type Spawned,
  signal,
  spawnCli,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';

/**
 * The README's quick start, run command for command: the fenced `sh` block under "## Quick start" is
 * parsed from README.md and each line is executed in order, as a newcomer would, with three
 * adaptations: `npx mailhook` runs bin/mailhook.js directly (what npx resolves to in a clone), the
 * ports 8787 and 9000 become free ones (MAILHOOK_URL points the CLI at the server, as it would on
 * 8787 by default), and the working directory is a temporary one. `…` placeholders are filled the way
 * a person does it: with the value of that shape the previous commands printed. `npm install && npm
 * run build` is the one line not run (npm test builds before running the suite).
 */

interface Step {
  line: string;
  /** The command with placeholders, ports and `npx mailhook` replaced. */
  command: string;
}

const PLACEHOLDERS: Array<{ text: string; pattern: RegExp }> = [
  { text: 'MFkw…', pattern: /MFkw[A-Za-z0-9+/]{40,}={0,2}/g },
  { text: 'src_…', pattern: /src_[0-9A-Z]{26}/g },
  { text: 'ep_…', pattern: /ep_[0-9A-Z]{26}/g },
  { text: 'whsec_…', pattern: /whsec_[A-Za-z0-9+/]{20,}={0,2}/g },
];

/** The commands of the quick start block, continuation lines joined, comments dropped. */
function quickStartCommands(readme: string): string[] {
  const section = readme.indexOf('\n## Quick start');
  if (section < 0) throw new Error('README.md has no "## Quick start" section');
  const start = readme.indexOf('```sh\n', section);
  const end = readme.indexOf('\n```', start + 6);
  const block = readme.slice(start + 6, end);
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const COMMANDS = quickStartCommands(README);

describe('the README quick start', () => {
  it('covers the whole loop: serve, source, simulate, events, endpoint, listen, deliveries, a retry', () => {
    const expected = [
      /^npm install/,
      /mailhook serve$/,
      /mailhook simulate --provider sendgrid --key generate > data\/sendgrid\.pem$/,
      /mailhook sources add .*--provider sendgrid --set public_key=MFkw…$/,
      /mailhook simulate --provider sendgrid --key data\/sendgrid\.pem --url \S+\/ingest\/src_…/,
      /mailhook events list/,
      /mailhook endpoints add http:\/\/127\.0\.0\.1:9000\/$/,
      /mailhook listen --port 9000 --secret whsec_…$/,
      /mailhook deliveries list --endpoint ep_…$/,
      /mailhook listen --port 9000 --secret whsec_… --fail 0\.5$/,
    ];
    let at = 0;
    for (const pattern of expected) {
      const found = COMMANDS.findIndex((command, i) => i >= at && pattern.test(command));
      expect(found, `the quick start has ${pattern} after command #${at}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });
});

describe('running the README quick start', () => {
  let dir: string;
  let serverPort: number;
  let listenPort: number;
  const env: Record<string, string> = {};
  const captured = new Map<string, string>();
  const background: Spawned[] = [];
  let listener: Spawned | undefined;
  let listeners = 0;
  let deliveryLists = 0;

  beforeAll(async () => {
    dir = tempDataDir();
    serverPort = await freePort();
    listenPort = await freePort();
  });

  afterAll(async () => {
    for (const spawned of background) signal(spawned, 'SIGTERM');
    await Promise.allSettled(background.map((s) => s.exited));
    await killAll();
    removeDir(dir);
  });

  function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return childEnv({
      HOST: '127.0.0.1',
      PORT: String(serverPort),
      MAILHOOK_URL: `http://127.0.0.1:${serverPort}`,
      ...env,
      ...extra,
    });
  }

  function adapt(line: string): Step {
    let command = line
      .replaceAll('127.0.0.1:8787', `127.0.0.1:${serverPort}`)
      .replaceAll('127.0.0.1:9000', `127.0.0.1:${listenPort}`)
      .replaceAll('--port 9000', `--port ${listenPort}`);
    for (const { text } of PLACEHOLDERS) {
      if (!command.includes(text)) continue;
      const value = captured.get(text);
      if (!value) throw new Error(`"${line}" needs ${text}, which no earlier command printed`);
      command = command.replaceAll(text, value);
    }
    return { line, command };
  }

  function capture(output: string): void {
    for (const { text, pattern } of PLACEHOLDERS) {
      const last = [...output.matchAll(pattern)].at(-1)?.[0];
      if (last) captured.set(text, last);
    }
  }

  /** A one-shot command, through bash (redirections), from the temporary directory. */
  function run(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const shell = command.replace(/^npx mailhook /, `"${process.execPath}" "${BIN}" `);
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', shell], { cwd: dir, env: childEnvironment() });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** serve and listen keep running (their own terminals): spawned directly, so that we hold their pid. */
  function start(command: string): Spawned {
    const words = command.split(/\s+/);
    const assignments: Record<string, string> = {};
    while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
      const [name, ...value] = (words.shift() as string).split('=');
      assignments[name as string] = value.join('=');
    }
    expect(words.slice(0, 2), command).toEqual(['npx', 'mailhook']);
    expect(command, 'long-running commands are simple words').not.toMatch(/["'|>&;]/);
    const spawned = spawnCli(words.slice(2), childEnvironment(assignments));
    background.push(spawned);
    return spawned;
  }

  async function repeatUntil(command: string, what: string, done: (out: string) => boolean): Promise<string> {
    return waitFor(
      what,
      async () => {
        const result = await run(command);
        expect(result.code, `${command}\n${result.stderr}`).toBe(0);
        return done(result.stdout) ? result.stdout : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  }

  const rowsOf = (table: string) =>
    table
      .split('\n')
      .map((row) => /^(dlv_\S+)\s+(\w+)\s+(\d+)/.exec(row))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ id: m[1], status: m[2], attempts: Number(m[3]) }));

  it('works command for command', async () => {
    for (const line of COMMANDS) {
      if (line.startsWith('npm install')) continue;
      const exported = /^export ([A-Z_][A-Z0-9_]*)=(\S+)$/.exec(line);
      if (exported) {
        env[exported[1] as string] = exported[2] as string;
        continue;
      }
      const { command } = adapt(line);

      if (/mailhook serve$/.test(command)) {
        // spawnCli runs from the repository root: the default ./data is pointed at the temporary one.
        env.MAILHOOK_DATA_DIR = join(dir, 'data');
        const server = start(command);
        await waitFor(`${line} ready`, async () => {
          if (server.hasExited()) throw new Error(`serve exited:\n${server.stderr()}`);
          const res = await fetch(`http://127.0.0.1:${serverPort}/readyz`).catch(() => null);
          return res?.status === 200 ? true : undefined;
        });
        continue;
      }

      if (/mailhook listen /.test(command)) {
        if (listener) {
          // "stop the receiver (Ctrl-C)"
          signal(listener, 'SIGINT');
          await listener.exited;
        }
        listener = start(command);
        listeners++;
        const current = listener;
        await waitFor(`${line} listening`, async () =>
          current.stderr().includes('receiving on') ? true : undefined,
        );
        continue;
      }

      if (/events list/.test(command)) {
        // The pipeline runs apart from ingest: a person would run it again after a moment.
        const out = await repeatUntil(command, 'events listed', (o) => /email\.\w+/.test(o));
        expect(out).toMatch(/email\.(delivered|opened|clicked|bounced|processed|sent)/);
        continue;
      }

      if (/deliveries list/.test(command)) {
        deliveryLists++;
        const current = listener as Spawned;
        if (deliveryLists === 1) {
          // Every one of the 20 events arrived at the receiver, signature checked, and succeeded.
          await waitFor('20 verified deliveries at the receiver', async () =>
            (current.stdout().match(/ 200 .*\(signature ok\)/g) ?? []).length >= 20 ? true : undefined,
          );
          const out = await repeatUntil(
            command,
            '20 succeeded deliveries',
            (o) => rowsOf(o).filter((r) => r.status === 'succeeded').length === 20,
          );
          expect(rowsOf(out).every((r) => r.attempts === 1)).toBe(true);
        } else {
          // The receiver answered 500 to some; the same webhook-id arrives again ~5 s later.
          await waitFor(
            'a retried delivery at the failing receiver',
            async () => {
              const ids = [...current.stdout().matchAll(/ (500|200) .* (evt_\S+) /g)].map((m) => m[2]);
              return ids.some((id, i) => ids.indexOf(id) !== i) ? true : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 200 },
          );
          expect(current.stdout()).toMatch(/ 500 .*\(signature ok\)/);
          await repeatUntil(command, 'a delivery with 2 attempts', (o) =>
            rowsOf(o).some((r) => r.attempts >= 2),
          );
        }
        continue;
      }

      const result = await run(command);
      expect(result.code, `${line}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
      capture(`${result.stdout}\n${result.stderr}`);

      if (/--key generate/.test(command)) {
        // The private key goes into the git-ignored data directory, not the working tree's root.
        expect(readFileSync(join(dir, 'data', 'sendgrid.pem'), 'utf8')).toContain('PRIVATE KEY');
        expect(existsSync(join(dir, 'sendgrid.pem'))).toBe(false);
        expect(captured.get('MFkw…')).toBeDefined();
      } else if (/sources add/.test(command)) {
        expect(result.stdout).toMatch(/ingest url:\s+http:\/\/127\.0\.0\.1:\d+\/ingest\/src_/);
      } else if (/endpoints add/.test(command)) {
        expect(captured.get('ep_…')).toBeDefined();
        expect(captured.get('whsec_…')).toBeDefined();
      } else if (/mailhook simulate/.test(command)) {
        // Every request acknowledged: the signatures verified with the key the source was given.
        expect(`${result.stdout}${result.stderr}`).toMatch(/acknowledged/i);
      }
    }
    expect(listeners).toBe(2);
    expect(deliveryLists).toBe(2);
    expect(existsSync(join(dir, 'data'))).toBe(true);
  }, 180_000);
});
