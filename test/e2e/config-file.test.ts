import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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

/** MAILHOOK_CONFIG: sources and endpoints declared in a file, applied by `mailhook serve` at start. */

const EXIT_CONFIG = 78;
const CRM_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROTATED_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

interface Source {
  id: string;
  name: string;
  provider: string;
  config_keys: string[];
  ingest_url: string;
  setup: string;
  updated_at: string;
}

interface Endpoint {
  id: string;
  description: string;
  url: string;
  event_types: string[];
  headers: Record<string, string>;
  updated_at: string;
}

const YAML = `# mailhook.yaml — the secrets come from the environment
sources:
  - name: SendGrid production
    provider: sendgrid
    config:
      public_key: \${SENDGRID_KEY}
  - name: Internal app
    provider: standard
    config: { secret: "\${APP_SECRET}" }
endpoints:
  - name: crm
    url: http://127.0.0.1:9/hooks/email
    # Written the way people write: a repeated type, a domain in capitals, an empty list, a quoted
    # number. The server normalises them; a second start must still find nothing to change.
    event_types: [email.bounced, email.complained, email.bounced]
    filter: { recipient_domains: [Example.COM], tags: [] }
    max_concurrency: "3"
    secret: \${CRM_SECRET}
    headers:
      x-tenant: \${TENANT}
`;

let dir: string;
let server: ServerProcess | undefined;

beforeEach(() => {
  dir = tempDataDir();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await killAll();
  removeDir(dir);
});

/** What a start could change; ingest URLs and setup texts name the port, which differs per start. */
async function state(url: string) {
  const sources = (await api<{ data: Source[] }>(url, '/v1/sources')).body.data.map(
    ({ ingest_url: _url, setup: _setup, ...rest }) => rest,
  );
  const endpoints = (await api<{ data: Endpoint[] }>(url, '/v1/endpoints')).body.data;
  const secrets = await Promise.all(
    endpoints.map(
      async (e) => (await api<{ secret: string }>(url, `/v1/endpoints/${e.id}/secret`)).body.secret,
    ),
  );
  // Endpoint answers show header names only; the values come from the reveal call.
  const headers = await Promise.all(
    endpoints.map(
      async (e) =>
        (await api<{ headers: Record<string, string> }>(url, `/v1/endpoints/${e.id}/headers`)).body.headers,
    ),
  );
  const keys = (await api<{ data: unknown[] }>(url, '/v1/keys')).body.data;
  return { sources, endpoints, secrets, headers, keys };
}

async function postSendGrid(url: string, signer: ReturnType<typeof sendGridSigner>): Promise<number> {
  const body = sendGridBody(sendGridEvents(2));
  const response = await fetch(url, { method: 'POST', headers: signer.headers(body), body });
  await response.arrayBuffer();
  return response.status;
}

describe('MAILHOOK_CONFIG applied at start', () => {
  it('creates what the file declares with values from the environment, and a second start changes nothing', async () => {
    const file = join(dir, 'mailhook.yaml');
    writeFileSync(file, YAML);
    const signer = sendGridSigner();
    const env = {
      MAILHOOK_CONFIG: file,
      MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      SENDGRID_KEY: signer.publicKey,
      APP_SECRET: 'whsec_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==',
      CRM_SECRET,
      TENANT: 'acme',
    };

    server = await startServer({ dataDir: dir, env });
    const first = await state(server.url);
    expect(first.sources.map((s) => [s.name, s.provider, s.config_keys])).toEqual(
      expect.arrayContaining([
        ['SendGrid production', 'sendgrid', ['public_key']],
        ['Internal app', 'standard', ['secret']],
      ]),
    );
    expect(first.endpoints).toHaveLength(1);
    expect(first.endpoints[0]).toMatchObject({
      description: 'crm',
      url: 'http://127.0.0.1:9/hooks/email',
      event_types: ['email.bounced', 'email.complained'],
      headers: { 'x-tenant': '[redacted]' },
    });
    expect(first.headers).toEqual([{ 'x-tenant': 'acme' }]);
    // ${VAR} was replaced: the endpoint signs with the secret from the environment, and the source
    // verifies SendGrid posts with the public key from the environment.
    expect(first.secrets).toEqual([CRM_SECRET]);
    const sendgrid = first.sources.find((s) => s.provider === 'sendgrid');
    const ingest = `${server.url}/ingest/${sendgrid?.id}`;
    expect(await postSendGrid(ingest, signer)).toBe(200);
    expect(await postSendGrid(ingest, sendGridSigner())).toBe(401);
    expect(server.stdout()).toContain('"created":3');
    await server.stop();

    server = await startServer({ dataDir: dir, env });
    const second = await state(server.url);
    // Same ids, same updated_at, same secrets, not even an extra API key: nothing was written.
    expect(second).toEqual(first);
    expect(server.stdout()).toContain('"created":0,"updated":0,"deleted":0,"unchanged":3');
    await server.stop();

    // A secret changed in the environment is applied at the next start, in place.
    server = await startServer({
      dataDir: dir,
      env: { ...env, CRM_SECRET: ROTATED_SECRET, TENANT: 'globex' },
    });
    const third = await state(server.url);
    expect(third.endpoints.map((e) => e.id)).toEqual(first.endpoints.map((e) => e.id));
    expect(third.headers).toEqual([{ 'x-tenant': 'globex' }]);
    expect(third.secrets).toEqual([ROTATED_SECRET]);
    expect(third.sources).toEqual(first.sources);
    // Three starts and stops of a real server: 8 s alone, past 20 s beside the heavy tests.
  }, 60_000);

  it('deletes what the file no longer names only when the file says "prune": true', async () => {
    const file = join(dir, 'mailhook.json');
    const env = { MAILHOOK_CONFIG: file, APP_SECRET: 'whsec_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==' };
    const app = { name: 'Internal app', provider: 'standard', config: { secret: `\${APP_SECRET}` } };
    const other = { name: 'Other app', provider: 'standard', config: { secret: `\${APP_SECRET}` } };
    writeFileSync(file, JSON.stringify({ sources: [app, other] }));
    server = await startServer({ dataDir: dir, env });
    await server.stop();

    writeFileSync(file, JSON.stringify({ sources: [app] }));
    server = await startServer({ dataDir: dir, env });
    let names = (await api<{ data: Source[] }>(server.url, '/v1/sources')).body.data.map((s) => s.name);
    expect(names.sort()).toEqual(['Internal app', 'Other app']);
    await server.stop();

    writeFileSync(file, JSON.stringify({ prune: true, sources: [app] }));
    server = await startServer({ dataDir: dir, env });
    names = (await api<{ data: Source[] }>(server.url, '/v1/sources')).body.data.map((s) => s.name);
    expect(names).toEqual(['Internal app']);
  });

  const broken: Array<{
    what: string;
    file: string;
    text: string;
    env?: Record<string, string>;
    says: string;
  }> = [
    { what: 'invalid YAML', file: 'mailhook.yaml', text: 'sources: [\n', says: 'not valid YAML' },
    { what: 'invalid JSON', file: 'mailhook.json', text: '{"sources": [', says: 'not valid JSON' },
    {
      what: 'an unset environment variable',
      file: 'mailhook.yaml',
      text: `sources:\n  - {name: a, provider: standard, config: {secret: "\${NOT_SET_ANYWHERE}"}}\n`,
      says: 'NOT_SET_ANYWHERE',
    },
    {
      what: 'an unknown field',
      file: 'mailhook.json',
      text: '{"source": []}',
      says: 'unknown top-level field source',
    },
    {
      what: 'a value the API refuses',
      file: 'mailhook.json',
      text: '{"sources": [{"name": "x", "provider": "no-such-esp"}]}',
      says: 'MH_ERR_UNKNOWN_PROVIDER',
    },
    { what: 'a file that does not exist', file: 'missing.yaml', text: '', says: 'cannot be read (ENOENT)' },
  ];

  for (const { what, file, text, env, says } of broken) {
    it(`stops the start with exit code 78 naming the file for ${what}`, async () => {
      const path = join(dir, file);
      if (text !== '') writeFileSync(path, text);
      const port = String(await freePort());
      const result = await runCli(
        ['serve'],
        e2eEnv(dir, { HOST: '127.0.0.1', PORT: port, MAILHOOK_CONFIG: path, ...env }),
        15_000,
      );
      expect(result.signal, `killed instead of exiting; stderr:\n${result.stderr}`).toBeNull();
      expect(result.code, result.stderr).toBe(EXIT_CONFIG);
      expect(result.stderr).toContain(`MAILHOOK_CONFIG: ${path}`);
      expect(result.stderr).toContain(says);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).not.toContain('mailhook listening');
    });
  }
});
