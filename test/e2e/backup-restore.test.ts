import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  api,
  e2eEnv,
  killAll,
  removeDir,
  runCli,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import { postBatch } from '../helpers/reliability.js';
import { type SendGridSigner, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

const dirs: string[] = [];

function freshDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

interface BackupSummary {
  file: string;
  bytes: number;
  pages: number;
  schema_version: number;
  migrations: string[];
  ms: number;
}

interface RestoreSummary {
  file: string;
  previous: string | null;
  schema_version: number;
  applied: number[];
}

/** One acknowledged ingest request: the inbox id the server answered with, and when the answer came. */
interface Ack {
  id: string;
  at: number;
}

/** `senders` concurrent senders of signed SendGrid batches, each answer of 200 recorded, until stopped. */
function keepIngesting(url: string, sourceId: string, signer: SendGridSigner, senders: number) {
  const acks: Ack[] = [];
  const failures: string[] = [];
  let stopped = false;
  const sender = async () => {
    while (!stopped) {
      const answer = await postBatch(url, sourceId, signer, sendGridEvents(1 + (acks.length % 3)));
      if (answer.status === 200)
        acks.push({ id: (JSON.parse(answer.body) as { id: string }).id, at: performance.now() });
      else failures.push(`${answer.status} ${answer.body}`);
    }
  };
  const done = Promise.all(Array.from({ length: senders }, sender));
  return {
    acks,
    failures,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function sendGridSource(server: ServerProcess, signer: SendGridSigner): Promise<string> {
  const created = await api<{ id: string }>(server.url, '/v1/sources', {
    method: 'POST',
    body: { name: 'backup test', provider: 'sendgrid', config: { public_key: signer.publicKey } },
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

function integrityOf(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

/** A small store made by `mailhook migrate` and its backup, for the refusal tests. */
async function storeAndBackup(): Promise<{ dataDir: string; file: string }> {
  const dataDir = freshDir();
  expect((await runCli(['migrate'], e2eEnv(dataDir))).code).toBe(0);
  const file = join(freshDir(), 'copy.db');
  const backup = await runCli(['backup', file], e2eEnv(dataDir));
  expect(backup.code, backup.stderr).toBe(0);
  return { dataDir, file };
}

describe('mailhook backup and restore (SQLite)', () => {
  it('a backup taken under ingest load holds every request acknowledged before it began, and a server runs on the restored copy', async () => {
    const dataDir = freshDir();
    const server = await startServer({ dataDir });
    const signer = sendGridSigner();
    const sourceId = await sendGridSource(server, signer);

    const load = keepIngesting(server.url, sourceId, signer, 4);
    await waitFor('200 acknowledged requests', async () => (load.acks.length >= 200 ? true : undefined));
    const backupStarted = performance.now();
    const acknowledgedBefore = load.acks.filter((ack) => ack.at < backupStarted).map((ack) => ack.id);
    const file = join(freshDir(), 'mailhook-backup.db');
    const backup = await runCli(['backup', file, '--json'], e2eEnv(dataDir));
    const backupEnded = performance.now();
    await load.stop();

    expect(backup.code, backup.stderr).toBe(0);
    const summary = JSON.parse(backup.stdout) as BackupSummary;
    expect(summary.file).toBe(file);
    expect(summary.bytes).toBe(statSync(file).size);
    expect(summary.migrations.length).toBeGreaterThan(0);
    // The copy holds credentials: owner-only, like the store. No temporary file is left beside it.
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(file, '..'))).toEqual(['mailhook-backup.db']);
    // The live server kept acknowledging while the copy was taken, and never refused a request.
    const during = load.acks.filter((ack) => ack.at > backupStarted && ack.at < backupEnded).length;
    expect(during).toBeGreaterThan(0);
    expect(load.failures).toEqual([]);
    await server.stop();

    const restoredDir = freshDir();
    const restore = await runCli(['restore', file, '--json'], e2eEnv(restoredDir));
    expect(restore.code, restore.stderr).toBe(0);
    const restored = JSON.parse(restore.stdout) as RestoreSummary;
    expect(restored).toMatchObject({
      file: join(restoredDir, 'mailhook.db'),
      previous: null,
      schema_version: summary.schema_version,
      applied: [],
    });
    expect(statSync(restored.file).mode & 0o777).toBe(0o600);

    const copy = await startServer({ dataDir: restoredDir });
    const missing: string[] = [];
    for (let i = 0; i < acknowledgedBefore.length; i += 25) {
      const answers = await Promise.all(
        acknowledgedBefore.slice(i, i + 25).map((id) => api(copy.url, `/v1/inbox/${id}`)),
      );
      answers.forEach((answer, j) => {
        if (answer.status !== 200) missing.push(`${acknowledgedBefore[i + j]}: ${answer.status}`);
      });
    }
    expect(missing).toEqual([]);
    expect(acknowledgedBefore.length).toBeGreaterThanOrEqual(200);
    // The source came across with its credentials: the copy verifies and stores the same sender.
    const after = await postBatch(copy.url, sourceId, signer, sendGridEvents(1));
    expect(after.status, after.body).toBe(200);
    await copy.stop();
    expect(integrityOf(restored.file)).toBe('ok');
  });

  it('restore refuses a data dir that holds a store; --force replaces it and keeps the old one aside', async () => {
    const { dataDir, file } = await storeAndBackup();
    const refused = await runCli(['restore', file], e2eEnv(dataDir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already holds a store');
    expect(refused.stderr).toContain('--force');
    expect(readdirSync(dataDir)).toEqual(['mailhook.db']);

    const forced = await runCli(['restore', file, '--force', '--json'], e2eEnv(dataDir));
    expect(forced.code, forced.stderr).toBe(0);
    const summary = JSON.parse(forced.stdout) as RestoreSummary;
    expect(summary.previous).toMatch(/mailhook\.db\.before-restore-\d{4}-\d\d-\d\dT\d{6}Z$/);
    expect(existsSync(summary.previous ?? '')).toBe(true);
    expect(integrityOf(join(dataDir, 'mailhook.db'))).toBe('ok');
  });

  it('restore refuses the data dir of a running server, even with --force', async () => {
    const { file } = await storeAndBackup();
    const dataDir = freshDir();
    const server = await startServer({ dataDir });
    const refused = await runCli(['restore', file, '--force'], e2eEnv(dataDir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('open in another process');
    // The server's store is untouched and it still answers.
    expect(readdirSync(dataDir).filter((name) => name.includes('before-restore'))).toEqual([]);
    expect(existsSync(join(dataDir, 'mailhook.db-wal'))).toBe(true);
    expect((await api(server.url, '/v1/sources')).status).toBe(200);
    await server.stop();
  });

  it('restore refuses a file that is not a mailhook store', async () => {
    const dir = freshDir();
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'not a database at all, just text that is long enough to look like a header');
    const plain = join(dir, 'plain.db');
    new Database(plain).exec('CREATE TABLE notes (body TEXT)').close();
    const dataDir = join(freshDir(), 'data');
    for (const [file, message] of [
      [junk, 'not a readable SQLite database'],
      [plain, 'not a mailhook store'],
    ] as const) {
      const refused = await runCli(['restore', file], e2eEnv(dataDir));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(message);
    }
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('backup refuses to overwrite a file unless --force, and refuses the store itself', async () => {
    const { dataDir, file } = await storeAndBackup();
    const before = statSync(file).mtimeMs;
    const refused = await runCli(['backup', file], e2eEnv(dataDir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already exists');
    expect(statSync(file).mtimeMs).toBe(before);
    expect(readdirSync(join(file, '..'))).toEqual(['copy.db']);

    const forced = await runCli(['backup', file, '--force'], e2eEnv(dataDir));
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/size:\s+[\d.]+ MB \(\d+ pages of \d+ bytes\)/);
    expect(forced.stdout).toMatch(/schema:\s+version \d+/);

    const self = await runCli(['backup', join(dataDir, 'mailhook.db'), '--force'], e2eEnv(dataDir));
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('is the store itself');
    expect(integrityOf(join(dataDir, 'mailhook.db'))).toBe('ok');
  });

  it('with DATABASE_URL set, backup points to pg_dump and restore to pg_restore', async () => {
    const dir = freshDir();
    const env = e2eEnv(dir, { DATABASE_URL: 'postgres://mailhook:secret-password@127.0.0.1:1/mailhook' });
    const backup = await runCli(['backup', join(dir, 'x.db')], env);
    expect(backup.code).toBe(78);
    expect(backup.stderr).toContain('pg_dump --format=custom');
    // The command names the variable, never the password inside it.
    expect(backup.stderr).not.toContain('secret-password');
    const restore = await runCli(['restore', join(dir, 'x.db')], env);
    expect(restore.code).toBe(78);
    expect(restore.stderr).toContain('pg_restore');
    expect(readdirSync(dir)).toEqual([]);
  });
});
