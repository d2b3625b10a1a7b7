import { randomBytes } from 'node:crypto';
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
 * Values a provider may send that PostgreSQL cannot take as they are: U+0000 (valid JSON, refused by
 * TEXT) and strings too long for a B-tree entry (2,704 bytes) in an indexed column. Either would fail
 * the pipeline's whole transaction; the API answers them with 400, not a store error. Both stores
 * behave alike.
 */

const BASIC = { username: 'postmark-hooks', password: 'correct horse battery staple' };
const CREDENTIALS = {
  authorization: `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString('base64')}`,
};
const fixture = (path: string) => readFileSync(join(import.meta.dirname, '../fixtures', path), 'utf8');
const FIXTURE = fixture('postmark/bounce-hard.json');
const BREVO_TOKEN = 'brevo-bearer-token-0123456789';

/** Random text: PostgreSQL compresses index entries, so a repeated character would not reach the limit. */
const randomText = (bytes: number) =>
  randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64url')
    .slice(0, bytes);

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

async function createSource(h: Harness, payload: Record<string, unknown>): Promise<string> {
  const res = await h.app.server.inject({ method: 'POST', url: '/v1/sources', headers: AUTH, payload });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { id: string }).id;
}

function ingest(h: Harness, sourceId: string, body: string, headers: Record<string, string>) {
  return h.app.server.inject({
    method: 'POST',
    url: `/ingest/${sourceId}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

async function listEvents(h: Harness): Promise<CanonicalEvent[]> {
  const res = await h.app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: CanonicalEvent[] }).data;
}

const kinds: Array<'sqlite' | 'postgres'> = ['sqlite'];
if (await postgresAvailable()) kinds.push('postgres');

describe.each(kinds)('a NUL character, on %s', (kind) => {
  let h: Harness;
  let sourceId: string;

  beforeAll(async () => {
    h = await harness(kind);
    sourceId = await createSource(h, { name: 'pm', provider: 'postmark', config: { basic_auth: BASIC } });
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
      const res = await ingest(h, sourceId, body, CREDENTIALS);
      expect(res.statusCode, res.body).toBe(200);
    }
    const summary = await h.pipeline.runOnce(10);
    expect(summary).toMatchObject({ rows: 2, processed: 2, quarantined: 0, inserted: 2 });
    const events = await listEvents(h);
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
    const res = await ingest(h, 'src_%00', FIXTURE, CREDENTIALS);
    expect(res.statusCode, res.body).toBe(404);
  });
});

describe.each(kinds)('values too long for an index entry, on %s', (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness(kind);
  });
  afterAll(async () => h.close());

  function publish(payload: unknown) {
    return h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: payload as object,
    });
  }

  it('a Brevo click on a 4 KB link (its dedup key holds the link) is stored, and stored once when resent', async () => {
    const sourceId = await createSource(h, {
      name: 'brevo',
      provider: 'brevo',
      config: { header: { name: 'Authorization', value: `Bearer ${BREVO_TOKEN}` } },
    });
    const link = `https://example.com/track?u=${randomText(4200)}`;
    const body = JSON.stringify({ ...JSON.parse(fixture('brevo/click.json')), link });
    const headers = { authorization: `Bearer ${BREVO_TOKEN}` };
    expect((await ingest(h, sourceId, body, headers)).statusCode).toBe(200);
    expect(await h.pipeline.runOnce(10)).toMatchObject({ processed: 1, quarantined: 0, inserted: 1 });
    expect((await ingest(h, sourceId, body, headers)).statusCode).toBe(200);
    expect(await h.pipeline.runOnce(10)).toMatchObject({ processed: 1, inserted: 0, duplicates: 1 });
    const clicks = (await listEvents(h)).filter((e) => e.type === 'email.clicked');
    expect(clicks).toHaveLength(1);
    expect(clicks[0]?.data.click?.url).toBe(link);
  });

  it('a recipient or message id too long to be real is kept in data.raw, not indexed, and the event stored', async () => {
    const sourceId = await createSource(h, {
      name: 'pm',
      provider: 'postmark',
      config: { basic_auth: BASIC },
    });
    const email = `${randomText(3000)}@example.com`;
    const messageId = randomText(3000);
    const body = JSON.stringify({ ...JSON.parse(FIXTURE), Email: email, MessageID: messageId, ID: 42 });
    expect((await ingest(h, sourceId, body, CREDENTIALS)).statusCode).toBe(200);
    expect(await h.pipeline.runOnce(10)).toMatchObject({ processed: 1, quarantined: 0, inserted: 1 });
    const bounce = (await listEvents(h)).find((e) => e.data.source_id === sourceId);
    expect(bounce?.data).toMatchObject({ recipient: null, message_id: null });
    expect(bounce?.data.raw).toMatchObject({ Email: email, MessageID: messageId });
  });

  it('a published unsubscribe from a 3 KB group suppresses, and the matching resubscribe lifts it', async () => {
    const group = randomText(3000);
    const event = (type: string) => ({
      type,
      timestamp: '2026-11-26T12:00:00Z',
      data: { recipient: 'long-group@example.com', unsubscribe: { group } },
    });
    expect((await publish(event('email.unsubscribed'))).statusCode).toBe(201);
    const listed = await h.app.server.inject({
      method: 'GET',
      url: '/v1/suppressions/long-group@example.com',
      headers: AUTH,
    });
    expect(listed.json()).toMatchObject({
      reasons: [{ reason: 'unsubscribe', scope: expect.stringMatching(/^group:sha256:[0-9a-f]{64}$/) }],
    });
    expect((await publish(event('email.resubscribed'))).statusCode).toBe(201);
    const after = await h.app.server.inject({
      method: 'GET',
      url: '/v1/suppressions/long-group@example.com',
      headers: AUTH,
    });
    expect(after.json()).toMatchObject({ suppressed: false, reasons: [] });
  });

  it('a group over 256 bytes is looked up and listed by its own name, though stored by its hash', async () => {
    const group = randomText(600);
    const res = await publish({
      type: 'email.unsubscribed',
      timestamp: '2026-11-26T12:00:00Z',
      data: { recipient: 'group-lookup@example.com', unsubscribe: { group } },
    });
    expect(res.statusCode, res.body).toBe(201);
    const get = (url: string) => h.app.server.inject({ method: 'GET', url, headers: AUTH });
    const check = await get(`/v1/suppressions/group-lookup@example.com?group=${encodeURIComponent(group)}`);
    expect(check.json()).toMatchObject({ suppressed: true });
    const listed = await get(`/v1/suppressions?scope=${encodeURIComponent(`group:${group}`)}`);
    expect((listed.json() as { data: Array<{ email: string }> }).data.map((e) => e.email)).toEqual([
      'group-lookup@example.com',
    ]);
  });

  it('a published recipient or message id over the limit is refused with 400 naming the field', async () => {
    const tooLong = [
      { recipient: `${randomText(320)}@example.com`, field: 'data.recipient must be at most 320 bytes' },
      {
        recipient: 'fine@example.com',
        message_id: randomText(999),
        field: 'data.message_id must be at most 998 bytes',
      },
    ];
    for (const { field, ...data } of tooLong) {
      const res = await publish({ type: 'email.delivered', data });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'MH_ERR_VALIDATION',
        message: expect.stringContaining(field),
      });
    }
  });
});
