import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/api/index.js';
import { type App, build } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PipelineRunner } from '../../src/pipeline/runner.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { API_KEY, AUTH, type TestApp, testApp } from '../helpers/app.js';
import { dropSchema, postgresAvailable, postgresStore, testSchema } from '../helpers/postgres.js';

/**
 * Mailgun signs only timestamp + token, so a signature block captured from one request (from a log, a
 * proxy, a receiver) verifies on any body for the 9 hours of the freshness window. The token is bound
 * to the first body it arrived with, in the store: these tests replay a captured block onto a forged
 * complaint in every way an attacker could reach a node.
 */

const KEY = 'mailgun-signing-key-for-replay-tests-0123';
const FIXTURES = join(import.meta.dirname, '../fixtures/mailgun');
const VICTIM = 'victim@example.com';
const JSON_HEADERS = { 'content-type': 'application/json' };

type Json = Record<string, unknown>;

function eventData(name: string): Json {
  const payload = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { 'event-data': Json };
  return payload['event-data'];
}

function signatureBlock() {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', KEY)
    .update(timestamp + token)
    .digest('hex');
  return { timestamp, token, signature };
}

/** A genuine delivered event and, under the same signature block, a forged complaint about the victim. */
function capturedPair() {
  const signature = signatureBlock();
  const genuine = JSON.stringify({ signature, 'event-data': { ...eventData('delivered'), id: randomId() } });
  const forged = JSON.stringify({
    signature,
    'event-data': { ...eventData('complained'), id: randomId(), recipient: VICTIM },
  });
  return { genuine, forged };
}

function randomId(): string {
  return randomBytes(11).toString('base64url');
}

async function post(app: App, sourceId: string, body: string) {
  return app.server.inject({
    method: 'POST',
    url: `/ingest/${sourceId}`,
    headers: JSON_HEADERS,
    payload: body,
  });
}

async function createSource(app: App): Promise<string> {
  const res = await app.server.inject({
    method: 'POST',
    url: '/v1/sources',
    headers: AUTH,
    payload: { name: 'mg', provider: 'mailgun', config: { signing_key: KEY } },
  });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { id: string }).id;
}

/** Runs the pipeline over what was stored, then checks that the forged complaint left no trace. */
async function expectNoForgedEffect(store: Store): Promise<void> {
  const pipeline = new PipelineRunner({ store, logger: pino({ level: 'silent' }) });
  await pipeline.runUntilIdle();
  expect(await store.getSuppressions(VICTIM)).toEqual([]);
  const page = await store.listEvents({ limit: 1000 });
  expect(page.items.filter((event) => event.type === 'email.complained')).toEqual([]);
}

describe('Mailgun: a captured signature block cannot carry a forged body (SQLite)', () => {
  let app: TestApp;
  let sourceId: string;

  afterEach(async () => app.close());

  it('refuses the forged body every time, before and after the genuine one, and takes its redelivery', async () => {
    app = await testApp();
    sourceId = await createSource(app);
    const { genuine, forged } = capturedPair();
    expect((await post(app, sourceId, genuine)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await post(app, sourceId, forged);
      expect(res.statusCode, `attempt ${i + 1}`).toBe(401);
      expect(res.json()).toMatchObject({
        code: 'MH_ERR_SIGNATURE_INVALID',
        message: expect.stringMatching(/replay/),
      });
    }
    // Mailgun retrying a request whose answer it did not get: accepted, and stored as one event.
    expect((await post(app, sourceId, genuine)).statusCode).toBe(200);
    await expectNoForgedEffect(app.store);
    expect((await app.store.listEvents({ limit: 10 })).items).toHaveLength(1);
  });

  it('refuses the forged body sent first in the same instant as the genuine one: one of them wins, for good', async () => {
    app = await testApp();
    sourceId = await createSource(app);
    const { genuine, forged } = capturedPair();
    const [a, b] = await Promise.all([post(app, sourceId, genuine), post(app, sourceId, forged)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 401]);
    // Whichever body the token was bound to, the other one is refused from then on.
    const winner = a.statusCode === 200 ? genuine : forged;
    const loser = a.statusCode === 200 ? forged : genuine;
    expect((await post(app, sourceId, loser)).statusCode).toBe(401);
    expect((await post(app, sourceId, winner)).statusCode).toBe(200);
  });

  it('still refuses the forged body after a restart of the server on the same database', async () => {
    app = await testApp();
    sourceId = await createSource(app);
    const { genuine, forged } = capturedPair();
    expect((await post(app, sourceId, genuine)).statusCode).toBe(200);
    await app.server.close();
    await app.store.close();

    const store = new SqliteStore({ filename: join(app.dir, 'mailhook.db') });
    const restarted = await build({ config: app.config, store, logger: pino({ level: 'silent' }) });
    try {
      expect((await post(restarted, sourceId, forged)).statusCode).toBe(401);
      expect((await post(restarted, sourceId, genuine)).statusCode).toBe(200);
      await expectNoForgedEffect(store);
    } finally {
      await restarted.server.close();
      await store.close();
    }
    app.store = new SqliteStore({ filename: join(app.dir, 'mailhook.db') });
  });

  it('still refuses the forged body after a flood of other genuine requests', async () => {
    app = await testApp();
    sourceId = await createSource(app);
    const { genuine, forged } = capturedPair();
    expect((await post(app, sourceId, genuine)).statusCode).toBe(200);
    // Each with a token of its own; a bounded in-memory guard would have to forget some of them.
    for (let wave = 0; wave < 10; wave++) {
      const flood = Array.from({ length: 300 }, () => post(app, sourceId, capturedPair().genuine));
      for (const res of await Promise.all(flood)) expect(res.statusCode).toBe(200);
    }
    expect((await post(app, sourceId, forged)).statusCode).toBe(401);
  });
});

describe('Mailgun: a captured signature block cannot carry a forged body (two nodes on PostgreSQL)', () => {
  let available = false;
  let schema: string;
  let stores: Store[] = [];
  let nodes: App[] = [];

  beforeAll(async () => {
    available = await postgresAvailable();
  });
  afterEach(async () => {
    for (const node of nodes) await node.server.close();
    for (const store of stores) await store.close();
    if (schema) await dropSchema(schema);
    nodes = [];
    stores = [];
  });
  async function twoNodes(): Promise<[App, App]> {
    schema = testSchema();
    const config = loadConfig({ MAILHOOK_DATA_DIR: '/nonexistent-mailhook-test', MAILHOOK_API_KEY: API_KEY });
    stores = [postgresStore(schema), postgresStore(schema)];
    await stores[0]?.migrate();
    for (const store of stores) await ensureAdminKey(store, API_KEY);
    const logger = pino({ level: 'silent' });
    nodes = await Promise.all(stores.map((store) => build({ config, store, logger })));
    return [nodes[0] as App, nodes[1] as App];
  }

  it('refuses on the second node a forged body under a block the first node stored, and races between nodes', async (ctx) => {
    if (!available) return ctx.skip();
    const [first, second] = await twoNodes();
    const sourceId = await createSource(first);
    const { genuine, forged } = capturedPair();
    expect((await post(first, sourceId, genuine)).statusCode).toBe(200);
    expect((await post(second, sourceId, forged)).statusCode).toBe(401);
    expect((await post(first, sourceId, forged)).statusCode).toBe(401);
    expect((await post(second, sourceId, genuine)).statusCode).toBe(200);

    // The same block posted to both nodes at once with different bodies: exactly one is taken.
    for (let i = 0; i < 10; i++) {
      const pair = capturedPair();
      const answers = await Promise.all([
        post(first, sourceId, pair.genuine),
        post(second, sourceId, pair.forged),
      ]);
      expect(answers.map((res) => res.statusCode).sort(), `race ${i}`).toEqual([200, 401]);
    }
    const pipelineStore = stores[0] as Store;
    const pipeline = new PipelineRunner({ store: pipelineStore, logger: pino({ level: 'silent' }) });
    await pipeline.runUntilIdle();
    // Ten races stored ten bodies in all, plus the one genuine delivered event.
    expect((await pipelineStore.listEvents({ limit: 100 })).items).toHaveLength(11);
  });
});
