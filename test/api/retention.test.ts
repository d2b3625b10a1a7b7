import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Metrics } from '../../src/monitoring/metrics.js';
import { nextLimit, RetentionPruner } from '../../src/retention/pruner.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();
const DAY = 24 * 60 * 60;
const nowSec = () => Math.floor(Date.now() / 1000);

function sgEvent(id: string, event: string, timestamp: number) {
  return {
    email: 'ada@example.com',
    timestamp,
    event,
    sg_event_id: id,
    sg_message_id: `m-${id}.filterdrecv-1`,
  };
}

describe('retention (MAILHOOK_RETENTION_*)', () => {
  let app: TestApp;
  let sourceId: string;
  let endpointId: string;
  const get = (url: string) => app.server.inject({ method: 'GET', url, headers: AUTH });

  beforeAll(async () => {
    app = await testApp({ MAILHOOK_RETENTION_EVENTS: '2d', MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    const source = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    sourceId = (source.json() as { id: string }).id;
  });

  afterAll(async () => {
    await app?.close();
  });

  async function ingest(events: ReturnType<typeof sgEvent>[]) {
    const body = sendGridBody(events);
    const res = await app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: signer.headers(body),
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
  }

  async function eventIdOf(sgEventId: string): Promise<string> {
    const res = await get('/v1/events?limit=100');
    const found = (
      res.json() as { data: Array<{ id: string; data: { provider_event_id: string } }> }
    ).data.find((e) => e.data.provider_event_id === sgEventId);
    if (!found) throw new Error(`no event ${sgEventId}`);
    return found.id;
  }

  it('prunes expired events (404 afterwards), counts them in /metrics and says what a replay can no longer send', async () => {
    const t = nowSec();
    await ingest([
      sgEvent('old-1', 'delivered', t - 10 * DAY),
      sgEvent('old-2', 'open', t - 9 * DAY),
      sgEvent('old-3', 'bounce', t - 8 * DAY),
      sgEvent('recent', 'delivered', t - 3600),
    ]);
    const ids = {
      old1: await eventIdOf('old-1'),
      old2: await eventIdOf('old-2'),
      old3: await eventIdOf('old-3'),
      recent: await eventIdOf('recent'),
    };
    // Created after the events, so none of them has a delivery pending (which would keep it).
    const endpoint = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9/hook', event_types: ['email.delivered', 'email.opened'] },
    });
    expect(endpoint.statusCode, endpoint.body).toBe(201);
    endpointId = (endpoint.json() as { id: string }).id;
    await app.server.inject({ method: 'POST', url: `/v1/endpoints/${endpointId}/pause`, headers: AUTH });

    const metrics = new Metrics(app.store);
    const pruner = new RetentionPruner({
      store: app.store,
      retention: app.config.retention,
      logger: pino({ level: 'silent' }),
      onPruned: (table, rows) => metrics.prunedRows.inc({ table }, rows),
    });
    expect(pruner.intervalMs).toBe(60_000);
    const deleted = await pruner.runOnce();
    expect(deleted.events).toBe(3);
    for (const id of [ids.old1, ids.old2, ids.old3])
      expect((await get(`/v1/events/${id}`)).statusCode).toBe(404);
    expect((await get(`/v1/events/${ids.recent}`)).statusCode).toBe(200);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/mailhook_retention_pruned_rows_total\{table="events"\} 3/);
    const oldest = /mailhook_retention_oldest_row_timestamp_seconds\{table="events"\} (\d+)/.exec(text);
    expect(Number(oldest?.[1])).toBe(t - 3600);

    const replay = await app.server.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpointId}/replay`,
      headers: AUTH,
      payload: { since: new Date((t - 20 * DAY) * 1000).toISOString() },
    });
    expect(replay.statusCode, replay.body).toBe(202);
    const answer = replay.json() as { not_kept?: { before: string; events: number } };
    // The endpoint takes delivered and open: the pruned bounce is not among what it would be sent.
    expect(answer.not_kept?.events).toBe(2);
    expect(Date.parse(answer.not_kept?.before ?? '')).toBeGreaterThan((t - 2 * DAY - 60) * 1000);

    const recentOnly = await app.server.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpointId}/replay`,
      headers: AUTH,
      payload: { since: new Date((t - DAY) * 1000).toISOString() },
    });
    expect((recentOnly.json() as { not_kept?: unknown }).not_kept).toBeUndefined();
  });

  it('keeps an event whose delivery is still pending, whatever its age', async () => {
    const t = nowSec();
    await app.server.inject({ method: 'POST', url: `/v1/endpoints/${endpointId}/pause`, headers: AUTH });
    await ingest([sgEvent('waiting', 'delivered', t - 30 * DAY), sgEvent('after', 'delivered', t)]);
    const id = await eventIdOf('waiting');
    const pruner = new RetentionPruner({
      store: app.store,
      retention: app.config.retention,
      logger: pino({ level: 'silent' }),
    });
    await pruner.runOnce();
    expect((await get(`/v1/events/${id}`)).statusCode).toBe(200);
  });
});

describe('retention settings', () => {
  const env = { MAILHOOK_DATA_DIR: '/tmp/unused' };

  it('defaults to 90 days of events, 30 of raw requests and of attempts', () => {
    expect(loadConfig(env).retention).toEqual({
      eventsMs: 90 * DAY * 1000,
      inboxMs: 30 * DAY * 1000,
      attemptsMs: 30 * DAY * 1000,
    });
  });

  it('takes 0 as forever and refuses less than a minute', () => {
    expect(loadConfig({ ...env, MAILHOOK_RETENTION_INBOX: '0' }).retention.inboxMs).toBe(0);
    expect(loadConfig({ ...env, MAILHOOK_RETENTION_INBOX: '1m' }).retention.inboxMs).toBe(60_000);
    expect(() => loadConfig({ ...env, MAILHOOK_RETENTION_EVENTS: '30s' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, MAILHOOK_RETENTION_ATTEMPTS: 'forever' })).toThrow(ConfigError);
  });

  it('runs four times per the shortest retention when that is under four minutes, and not at all when all are 0', () => {
    const logger = pino({ level: 'silent' });
    const store = {} as never;
    const short = new RetentionPruner({
      store,
      logger,
      retention: { eventsMs: 0, inboxMs: 60_000, attemptsMs: 0 },
    });
    expect(short.intervalMs).toBe(15_000);
    const off = new RetentionPruner({ store, logger, retention: { eventsMs: 0, inboxMs: 0, attemptsMs: 0 } });
    expect(off.enabled).toBe(false);
  });

  it('sizes batches toward a few milliseconds each', () => {
    expect(nextLimit(200, 50, 40)).toBe(200);
    expect(nextLimit(200, 200, 40)).toBeLessThan(200);
    expect(nextLimit(200, 200, 1)).toBeGreaterThan(200);
    expect(nextLimit(5000, 5000, 0)).toBe(5000);
    expect(nextLimit(20, 20, 1000)).toBe(20);
  });
});
