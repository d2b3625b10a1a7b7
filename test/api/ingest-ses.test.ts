import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Fetcher } from '../../src/providers/types.js';
import {
  SIGNING_DIR,
  type SnsFields,
  signFields,
  snsConfirmation,
  snsHeaders,
  snsNotification,
  TEST_TOPIC,
} from '../fixtures/ses/signing/sns-signer.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/ses');

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('POST /ingest/:sourceId for Amazon SES via SNS', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    // The test certificate is found offline, as operators pre-seed SNS certificates.
    app = await testApp({ MAILHOOK_SNS_CERT_DIR: SIGNING_DIR });
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'ses', provider: 'ses', config: { topic_arn: TEST_TOPIC } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(fields: SnsFields | string, headers?: Record<string, string>) {
    const payload = typeof fields === 'string' ? fields : JSON.stringify(fields);
    const sent = headers ?? (typeof fields === 'string' ? {} : snsHeaders(fields));
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers: sent, payload });
  }

  it('refuses forged, tampered and foreign-topic messages with 401 and stores nothing', async () => {
    const genuine = snsNotification(fixture('event-bounce.json'));
    const forger = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedKey = forger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tampered = { ...genuine, Message: genuine.Message!.replace('recipient@', 'victim@') };
    const attempts = [
      post(signFields(genuine, forgedKey)),
      post(tampered),
      post(
        snsNotification(fixture('event-bounce.json'), { topicArn: 'arn:aws:sns:us-east-1:999999999999:x' }),
      ),
      post({ ...genuine, SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.com/cert.pem' }),
      post('{"Type":"Notification"}'),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('refuses a certificate on an S3 bucket host named sns, which AWS validators accept', async () => {
    // The certificate is the right one and the signature valid (the directory serves it by file name):
    // only the host stops it. `sns.s3-external-1.amazonaws.com` is bucket `sns` on a legacy S3 endpoint.
    const genuine = snsNotification(fixture('event-bounce.json'));
    const url = 'https://sns.s3-external-1.amazonaws.com/SimpleNotificationService-mailhook-test-only.pem';
    const res = await post({ ...genuine, SigningCertURL: url });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores one event per recipient once, however often SNS resends the notification', async () => {
    const send = fixture('event-send.json');
    (send.mail as Record<string, unknown>).destination = [
      'one@example.com',
      'two@example.com',
      'ONE@example.com',
    ];
    const message = snsNotification(send);
    expect((await post(message)).statusCode).toBe(200);
    expect((await post(message)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 2, duplicates: 4 });
    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=10', headers: AUTH });
    const events = (res.json() as { data: { type: string; data: Record<string, unknown> }[] }).data;
    expect(events.map((e) => [e.type, e.data.recipient]).sort()).toEqual([
      ['email.sent', 'one@example.com'],
      ['email.sent', 'two@example.com'],
    ]);
    expect(events[0]?.data).toMatchObject({
      provider: 'ses',
      provider_event_id: message.MessageId,
      message_id: 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000',
    });
  });

  it('acknowledges the plain-text topic validation message without quarantining it', async () => {
    const text = readFileSync(join(FIXTURES, 'sns-topic-validated-message.txt'), 'utf8');
    expect(
      (await post(snsNotification(text, { subject: 'Amazon SES Email Event Notification' }))).statusCode,
    ).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 0, quarantined: 0 });
    expect(await app.store.countEvents()).toBe(0);
  });
});

describe('SNS subscription confirmation through ingest', () => {
  it('confirms the subscription through the injected fetcher and shows it on the source', async () => {
    const fetch = vi.fn<Fetcher>(async () => ({
      status: 200,
      text: `<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>${TEST_TOPIC}:abc</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`,
    }));
    const app = await testAppWithFetcher(fetch);
    try {
      const created = await app.server.inject({
        method: 'POST',
        url: '/v1/sources',
        headers: AUTH,
        payload: { name: 'ses', provider: 'ses', config: {} },
      });
      const id = (created.json() as { id: string }).id;
      const message = snsConfirmation('SubscriptionConfirmation');
      const res = await app.server.inject({
        method: 'POST',
        url: `/ingest/${id}`,
        headers: snsHeaders(message),
        payload: JSON.stringify(message),
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(await inboxCount(app)).toBe(0);
      const source = await app.server.inject({ method: 'GET', url: `/v1/sources/${id}`, headers: AUTH });
      expect(source.json()).toMatchObject({
        state: {
          sns: { subscription: 'confirmed', topic_arn: TEST_TOPIC, subscription_arn: `${TEST_TOPIC}:abc` },
        },
      });
    } finally {
      await app.close();
    }
  });
});

describe('SNS topic pinned on first use, for a source without topic_arn', () => {
  const OTHER = 'arn:aws:sns:eu-west-1:999999999999:attacker';
  let app: TestApp;
  let id: string;
  const fetch = vi.fn<Fetcher>(async (url) => ({
    status: 200,
    text: `<SubscriptionArn>${new URL(url).searchParams.get('TopicArn')}:abc</SubscriptionArn>`,
  }));

  beforeEach(async () => {
    fetch.mockClear();
    app = await testAppWithFetcher(fetch);
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'ses', provider: 'ses', config: {} },
    });
    id = (created.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(fields: SnsFields) {
    return app.server.inject({
      method: 'POST',
      url: `/ingest/${id}`,
      headers: snsHeaders(fields),
      payload: JSON.stringify(fields),
    });
  }

  async function source() {
    const res = await app.server.inject({ method: 'GET', url: `/v1/sources/${id}`, headers: AUTH });
    return res.json() as { setup: string; state: Record<string, Record<string, unknown>> };
  }

  function patchConfig(config: Record<string, unknown>) {
    return app.server.inject({
      method: 'PATCH',
      url: `/v1/sources/${id}`,
      headers: AUTH,
      payload: { config },
    });
  }

  it('confirms the first topic, shows it pinned, and refuses every message of another topic with 401', async () => {
    expect((await post(snsConfirmation('SubscriptionConfirmation'))).statusCode).toBe(200);
    const pinned = await source();
    expect(pinned.state.sns_topic).toMatchObject({
      topic_arn: TEST_TOPIC,
      pinned_by: 'SubscriptionConfirmation',
    });
    expect(pinned.setup).toContain(`Only messages from ${TEST_TOPIC} are accepted`);
    for (const message of [
      snsConfirmation('SubscriptionConfirmation', { topicArn: OTHER }),
      snsNotification(fixture('event-bounce.json'), { topicArn: OTHER }),
      snsConfirmation('UnsubscribeConfirmation', { topicArn: OTHER }),
    ]) {
      const res = await post(message);
      expect(res.statusCode, message.Type).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(await inboxCount(app)).toBe(0);
    expect((await post(snsNotification(fixture('event-bounce.json')))).statusCode).toBe(200);
    expect(await inboxCount(app)).toBe(1);
    expect((await source()).state).toMatchObject({
      sns: { topic_arn: TEST_TOPIC },
      sns_topic: pinned.state.sns_topic,
    });
  });

  it('confirms only one of two topics whose confirmations arrive at the same time', async () => {
    const answers = await Promise.all([
      post(snsConfirmation('SubscriptionConfirmation')),
      post(snsConfirmation('SubscriptionConfirmation', { topicArn: OTHER })),
    ]);
    expect(answers.map((res) => res.statusCode).sort()).toEqual([200, 401]);
    expect(fetch).toHaveBeenCalledTimes(1);
    const confirmed = answers.find((res) => res.statusCode === 200)?.json() as { topic_arn?: string };
    const winner = confirmed.topic_arn;
    expect([TEST_TOPIC, OTHER]).toContain(winner);
    expect((await source()).state).toMatchObject({
      sns: { subscription: 'confirmed', topic_arn: winner },
      sns_topic: { topic_arn: winner },
    });
  });

  it('pins the first notification of a source whose subscription was confirmed before pins existed', async () => {
    await app.store.updateSourceState(
      id,
      { sns: { subscription: 'confirmed', topic_arn: TEST_TOPIC } },
      new Date(),
    );
    app.sources.invalidate(id);
    expect((await post(snsNotification(fixture('event-bounce.json')))).statusCode).toBe(200);
    expect((await source()).state.sns_topic).toMatchObject({
      topic_arn: TEST_TOPIC,
      pinned_by: 'Notification',
    });
    expect((await post(snsNotification(fixture('event-bounce.json'), { topicArn: OTHER }))).statusCode).toBe(
      401,
    );
    expect(await inboxCount(app)).toBe(1);
  });

  it('moves a pinned source to another topic when topic_arn is set, and keeps it when topic_arn is removed', async () => {
    expect((await post(snsNotification('x'))).statusCode).toBe(200);
    expect((await patchConfig({ topic_arn: OTHER })).statusCode).toBe(200);
    expect((await post(snsNotification('x'))).statusCode).toBe(401);
    expect((await post(snsNotification('x', { topicArn: OTHER }))).statusCode).toBe(200);
    expect((await source()).state.sns_topic).toMatchObject({
      topic_arn: OTHER,
      pinned_by: 'config.topic_arn',
    });
    expect((await patchConfig({})).statusCode).toBe(200);
    expect((await post(snsNotification('x', { topicArn: OTHER }))).statusCode).toBe(200);
    expect((await post(snsNotification('x'))).statusCode).toBe(401);
  });
});

/** testApp() with the SNS certificate directory and a fetcher of our own (testApp takes none). */
async function testAppWithFetcher(fetcher: Fetcher): Promise<TestApp> {
  const base = await testApp({ MAILHOOK_SNS_CERT_DIR: SIGNING_DIR });
  const { build } = await import('../../src/app.js');
  const pino = (await import('pino')).default;
  await base.server.close();
  const app = await build({
    config: base.config,
    store: base.store,
    logger: pino({ level: 'silent' }),
    fetcher,
  });
  const close = async () => {
    await app.server.close();
    await base.close();
  };
  return { ...base, ...app, close };
}
