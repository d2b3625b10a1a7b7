import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/api/index.js';
import { type App, build } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { CanonicalEvent } from '../../src/events.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import { PipelineRunner } from '../../src/pipeline/runner.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { API_KEY, AUTH } from '../helpers/app.js';
import { dropSchema, postgresAvailable, postgresStore, testSchema } from '../helpers/postgres.js';

/**
 * U+0000 is valid JSON, and PostgreSQL's TEXT cannot hold it: a provider's NUL must not stall the
 * pipeline, and the API answers a NUL with 400, not a store error. Both stores behave alike.
 */

const BASIC = { username: 'postmark-hooks', password: 'correct horse battery staple' };
const CREDENTIALS = {
  authorization: `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString('base64')}`,
};
const FIXTURE = readFileSync(join(import.meta.dirname, '../fixtures/postmark/bounce-hard.json'), 'utf8');

interface Harness {
  app: App;
  store: Store;
  pipeline: PipelineRunner;
  close(): Promise<void>;
}

async function harness(kind: 'sqlite' | 'postgres'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-nul-'));
  const schema = testSchema();
  const store: Store =
    kind === 'sqlite' ? new SqliteStore({ filename: join(dir, 'mailhook.db') }) : postgresStore(schema);
  await store.migrate();
  await ensureAdminKey(store, API_KEY);
  const config = loadConfig({ MAILHOOK_DATA_DIR: dir, MAILHOOK_API_KEY: API_KEY });
  const logger = pino({ level: 'silent' });
  const app = await build({ config, store, logger });
  const pipeline = new PipelineRunner({ store, logger, effects: pipelineEffects() });
  return {
    app,
    store,
    pipeline,
    async close() {
      await app.server.close();
      await store.close();
      if (kind === 'postgres') await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const kinds: Array<'sqlite' | 'postgres'> = ['sqlite'];
if (await postgresAvailable()) kinds.push('postgres');

describe.each(kinds)('a NUL character, on %s', (kind) => {
  let h: Harness;
  let sourceId: string;

  beforeAll(async () => {
    h = await harness(kind);
    const res = await h.app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'pm', provider: 'postmark', config: { basic_auth: BASIC } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterAll(async () => h.close());

  /** Creates a source from raw JSON text, so the name can hold a JSON escape as written. */
  function postSourceNamed(jsonName: string) {
    return h.app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: `{"name": "${jsonName}", "provider": "postmark", "config": {"basic_auth": ${JSON.stringify(BASIC)}}}`,
    });
  }

  it('in a provider payload is stored as U+FFFD and the event, its suppression and the rows after it go through', async () => {
    const withNul = FIXTURE.replace('"john@example.com"', '"jo\\u0000hn@example.com"')
      .replace('"Test bounce details"', '"details\\u0000"')
      .replace('4323372036854775807', '4323372036854775806');
    expect(withNul).toContain('\\u0000');
    for (const body of [withNul, FIXTURE]) {
      const res = await h.app.server.inject({
        method: 'POST',
        url: `/ingest/${sourceId}`,
        headers: { 'content-type': 'application/json', ...CREDENTIALS },
        payload: body,
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    const summary = await h.pipeline.runOnce(10);
    expect(summary).toMatchObject({ rows: 2, processed: 2, quarantined: 0, inserted: 2 });
    const res = await h.app.server.inject({ method: 'GET', url: '/v1/events?limit=10', headers: AUTH });
    const events = (res.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.data.recipient).sort()).toEqual([
      'john@example.com',
      'jo\uFFFDhn@example.com',
    ]);
    expect(JSON.stringify(events)).not.toContain('\\u0000');
    const check = await h.app.server.inject({
      method: 'POST',
      url: '/v1/suppressions/check',
      headers: AUTH,
      payload: { emails: ['john@example.com'] },
    });
    expect(check.statusCode, check.body).toBe(200);
    expect(check.json()).toMatchObject({ data: [{ email: 'john@example.com', suppressed: true }] });
    const list = await h.app.server.inject({
      method: 'GET',
      url: '/v1/suppressions?limit=10',
      headers: AUTH,
    });
    expect(list.body).toContain('jo\uFFFDhn@example.com');
  });

  it('in an API body or URL is refused with 400 and a message that names it', async () => {
    const body = await postSourceNamed('bad\\u0000name');
    expect(body.statusCode, body.body).toBe(400);
    expect(body.body).toContain('NUL');
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const url of [
      '/v1/events?recipient=a%00b',
      '/v1/sources/src_%00',
      '/v1/messages/m%00',
      `/v1/events?cursor=${forged([1, 'evt_\u0000'])}`,
      `/v1/suppressions?cursor=${forged([1, 'a\u0000@example.com', 'global', 'manual'])}`,
    ]) {
      const res = await h.app.server.inject({ method: 'GET', url, headers: AUTH });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
    }
    // A literal backslash-u text is not a NUL.
    const fine = await postSourceNamed('back\\\\u0000slash');
    expect(fine.statusCode, fine.body).toBe(201);
  });

  it('in an ingest URL is an unknown source (404), not a store failure', async () => {
    const res = await h.app.server.inject({
      method: 'POST',
      url: '/ingest/src_%00',
      headers: { 'content-type': 'application/json', ...CREDENTIALS },
      payload: FIXTURE,
    });
    expect(res.statusCode, res.body).toBe(404);
  });
});
