import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { ReconcileScheduler } from '../../../src/reconcile/scheduler.js';
import type { SourceRecord } from '../../../src/store/store.js';
import { type TestApp, testApp } from '../../helpers/app.js';

const NOW = new Date('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;

function source(config: Record<string, unknown>, provider = 'mailgun'): SourceRecord {
  return {
    id: newId('source'),
    name: `${provider} ${Object.keys(config).join(',')}`,
    provider,
    config,
    enabled: true,
    state: {},
    createdAt: NOW,
    updatedAt: NOW,
  };
}

describe('ReconcileScheduler', () => {
  let app: TestApp;
  let withApi: SourceRecord;
  let woken = 0;
  const schedulers: ReconcileScheduler[] = [];

  beforeEach(async () => {
    app = await testApp();
    withApi = source({ signing_key: 'k', api_key: 'key-1', domain: 'mg.example.com' });
    await app.store.createSource(withApi);
    await app.store.createSource(source({ signing_key: 'k' }));
    await app.store.createSource(source({ public_key: 'p', api_key: 'ignored' }, 'sendgrid'));
    woken = 0;
  });

  afterEach(async () => {
    for (const s of schedulers.splice(0)) s.stop();
    await app.close();
  });

  function scheduler(now = NOW) {
    const s = new ReconcileScheduler({
      store: app.store,
      logger: pino({ level: 'silent' }),
      everyMs: 0,
      wake: () => woken++,
      now: () => now,
    });
    schedulers.push(s);
    return s;
  }

  it('reads back the gap after downtime, for the sources with an API key of a provider that has an event API', async () => {
    await app.store.heartbeat(new Date(NOW.getTime() - 30 * MINUTE));
    await scheduler().start();
    const jobs = await app.store.listReconciliations(withApi.id, 10);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ trigger: 'startup', status: 'running' });
    expect(jobs[0]?.since.getTime(), 'ten minutes before it was last seen').toBe(NOW.getTime() - 40 * MINUTE);
    expect(jobs[0]?.until.getTime()).toBe(NOW.getTime());
    expect(woken).toBe(1);
    for (const other of await app.store.listSources())
      if (other.id !== withApi.id) expect(await app.store.listReconciliations(other.id, 10)).toEqual([]);
  });

  it('does nothing on a first start or after a short restart', async () => {
    await scheduler().start();
    expect(await app.store.listReconciliations(withApi.id, 10)).toEqual([]);
    await scheduler(new Date(NOW.getTime() + MINUTE)).start();
    expect(await app.store.listReconciliations(withApi.id, 10)).toEqual([]);
  });

  it('reads back a silent source since its last request, unless a run is already going', async () => {
    const s = scheduler();
    const lastRequest = new Date(NOW.getTime() - 3 * 60 * MINUTE);
    await s.onSilent(withApi.id, lastRequest);
    await s.onSilent(withApi.id, lastRequest);
    const jobs = await app.store.listReconciliations(withApi.id, 10);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      trigger: 'silent',
      since: new Date(lastRequest.getTime() - 10 * MINUTE),
    });
  });
});
