import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../src/simulate/stats.js';
import { SIGNING_DIR } from '../fixtures/ses/signing/sns-signer.js';
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

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

interface InboxRow {
  status: 'pending' | 'processed' | 'quarantined';
  event_count: number;
  duplicate_count: number;
}

/** Every item of a paginated /v1 list. */
async function all<T>(server: ServerProcess, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page: { status: number; body: Page<T> } = await api<Page<T>>(
      server.url,
      `${path}${separator}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status).toBe(200);
    items.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor);
  return items;
}

async function createSource(server: ServerProcess, provider: string, config: Record<string, unknown>) {
  const created = await api<{ id: string; ingest_url: string }>(server.url, '/v1/sources', {
    method: 'POST',
    body: { name: `simulated ${provider}`, provider, config },
  });
  expect(created.status).toBe(201);
  return created.body;
}

const COUNT = 120;

describe('mailhook simulate against a real server', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dir = tempDataDir();
    // The server trusts the test-only SNS signing certificate, as the simulate help tells users to do.
    server = await startServer({
      dataDir: dir,
      env: { MAILHOOK_LOG_LEVEL: 'warn', MAILHOOK_SNS_CERT_DIR: SIGNING_DIR },
    });
  });

  afterAll(async () => {
    await killAll();
    removeDir(dir);
  });

  async function sendgridKey(): Promise<{ keys: string[]; config: Record<string, unknown> }> {
    const generated = await runCli(
      ['simulate', '--provider', 'sendgrid', '--key', 'generate', '--json'],
      e2eEnv(dir),
    );
    expect(generated.code).toBe(0);
    const { private_key_pem, source_config } = JSON.parse(generated.stdout) as {
      private_key_pem: string;
      source_config: Record<string, unknown>;
    };
    const file = join(dir, 'sendgrid-simulate.pem');
    writeFileSync(file, private_key_pem);
    return { keys: [file], config: source_config };
  }

  const cases: Array<{
    provider: string;
    batch: number;
    credential: () => Promise<{ keys: string[]; config: Record<string, unknown> }>;
  }> = [
    { provider: 'sendgrid', batch: 10, credential: sendgridKey },
    {
      provider: 'mailgun',
      batch: 1,
      credential: async () => ({
        keys: ['key-simulated-0123456789'],
        config: { signing_key: 'key-simulated-0123456789' },
      }),
    },
    {
      provider: 'ses',
      batch: 1,
      credential: async () => ({
        keys: [SIGNING_DIR],
        config: { topic_arn: 'arn:aws:sns:us-east-1:123456789012:mailhook-simulate' },
      }),
    },
  ];

  for (const { provider, batch, credential } of cases) {
    it(`stores exactly the distinct ${provider} events, despite duplicates and forged requests`, async () => {
      const { keys, config } = await credential();
      const source = await createSource(server, provider, config);
      const args = [
        'simulate',
        '--provider',
        provider,
        '--url',
        source.ingest_url,
        ...keys.flatMap((key) => ['--key', key]),
        '--count',
        String(COUNT),
        '--batch',
        String(batch),
        '--concurrency',
        '8',
        '--duplicates',
        '20%',
        '--bad-signatures',
        '10%',
        '--shuffle',
        '--json',
      ];
      const run = await runCli(args, e2eEnv(dir), 60_000);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const summary = JSON.parse(run.stdout) as Summary;
      const requests = COUNT / batch;
      const duplicates = Math.round(requests * 0.2);
      const bad = Math.round(requests * 0.1);
      expect(summary.events).toBe(COUNT);
      expect(summary.requests).toEqual({
        valid: requests,
        duplicates,
        bad_signatures: bad,
        total: requests + duplicates + bad,
      });
      expect(summary.sent).toBe(requests + duplicates + bad);
      expect(summary.acknowledged).toBe(requests + duplicates);
      expect(summary.rejected).toBe(bad);
      expect(summary.unexpected.count).toBe(0);
      expect(summary.latency_ms.p50).toBeGreaterThan(0);

      // Every acknowledged request is in the inbox (duplicates too); the forged ones are not.
      const rows = await waitFor(`the ${provider} inbox to be processed`, async () => {
        const listed = await all<InboxRow>(server, `/v1/inbox?source_id=${source.id}`);
        return listed.every((row) => row.status === 'processed') ? listed : undefined;
      });
      expect(rows).toHaveLength(requests + duplicates);
      expect(rows.reduce((sum, row) => sum + row.event_count, 0)).toBe(COUNT);
      expect(rows.reduce((sum, row) => sum + row.duplicate_count, 0)).toBe(duplicates * batch);
      const events = await all<{ type: string }>(server, `/v1/events?source_id=${source.id}`);
      expect(events).toHaveLength(COUNT);
      expect(new Set(events.map((e) => e.type))).toContain('email.delivered');
    });
  }

  it('exits 1 and counts every answer as unexpected when the source holds another key', async () => {
    const source = await createSource(server, 'mailgun', { signing_key: 'key-the-right-one-0123456789' });
    const run = await runCli(
      [
        'simulate',
        '--provider',
        'mailgun',
        '--url',
        source.ingest_url,
        '--key',
        'key-a-wrong-one',
        '--count',
        '5',
        '--json',
      ],
      e2eEnv(dir),
    );
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.unexpected).toMatchObject({ count: 5, by_status: { '401': 5 } });
  });

  it("prints the server's reason for unexpected answers, not only their status", async () => {
    const { keys } = await sendgridKey();
    // A SendGrid source is created before SendGrid shows its key: until it is set, every post is refused.
    const source = await createSource(server, 'sendgrid', {});
    const args = [
      'simulate',
      '--provider',
      'sendgrid',
      '--url',
      source.ingest_url,
      '--key',
      keys[0] as string,
    ];
    const text = await runCli([...args, '--count', '3'], e2eEnv(dir));
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      'valid request → 401 (MH_ERR_SIGNATURE_INVALID: source has no public_key yet',
    );
    const json = await runCli([...args, '--count', '3', '--json'], e2eEnv(dir));
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.unexpected.examples).toEqual([
      expect.stringContaining('MH_ERR_SIGNATURE_INVALID: source has no public_key yet'),
    ]);
  });

  it('refuses bad options with exit code 2 and names the problem', async () => {
    const missing = await runCli(
      ['simulate', '--provider', 'postmark', '--url', 'http://127.0.0.1:9/'],
      e2eEnv(dir),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--key');
    const unknown = await runCli(
      ['simulate', '--provider', 'nope', '--url', 'http://127.0.0.1:9/'],
      e2eEnv(dir),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('sendgrid');
  });
});
