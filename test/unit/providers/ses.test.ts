import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { MailhookError, MalformedPayloadError } from '../../../src/errors.js';
import type { ParsedEvent } from '../../../src/events.js';
import { ses } from '../../../src/providers/ses.js';
import { parseSesTime } from '../../../src/providers/ses-events.js';
import type { Fetcher, RawRequest, Source, VerifyContext } from '../../../src/providers/types.js';
import {
  type SnsFields,
  signFields,
  snsConfirmation,
  snsHeaders,
  snsNotification,
  TEST_CERT_PEM,
  TEST_TOPIC,
} from '../../fixtures/ses/signing/sns-signer.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/ses');
const VECTOR = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../fixtures/vectors/ses/vector-sns-aws-php-validator.json'),
    'utf8',
  ),
) as { certificate_pem: string; messages: SnsFields[] };

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

let sources = 0;

/**
 * A source of its own: an unpinned source takes the first topic that reaches it, so tests that send
 * several topics, or run one after another, must not share one.
 */
function sourceWith(config: Record<string, unknown> = {}, state?: Record<string, unknown>): Source {
  sources += 1;
  return { ...adapterSource(ses, config), id: `src_ses_${sources}`, ...(state && { state }) };
}

/** A fresh source without topic_arn and without a pinned topic. */
function open(): Source {
  return sourceWith();
}

function request(fields: unknown, headers: Record<string, string> = {}): RawRequest {
  return rawRequest(typeof fields === 'string' ? fields : JSON.stringify(fields), headers);
}

/** A context whose certificate lookup serves `pem` for any URL and records what was asked. */
function certContext(pem: string, overrides: Partial<VerifyContext> = {}) {
  const asked: string[] = [];
  const ctx = verifyContext({
    snsCertificate: async (url) => {
      asked.push(url);
      return pem;
    },
    ...overrides,
  });
  return { ctx, asked };
}

describe('Amazon SES verification against the aws-php-sns-message-validator vectors', () => {
  it('accepts all four real SNS messages (SignatureVersion 1 and 2, with and without Subject)', async () => {
    const { ctx, asked } = certContext(VECTOR.certificate_pem, { toleranceSec: 0 });
    for (const message of VECTOR.messages) {
      expect(await ses.verify(request(message), open(), ctx)).toEqual({ ok: true });
    }
    expect(asked).toEqual(VECTOR.messages.map((m) => m.SigningCertURL));
  });

  it('accepts a vector up to an hour late, since SNS resends a message unchanged for an hour', async () => {
    const message = VECTOR.messages[1]!;
    const sent = new Date(message.Timestamp!).getTime();
    const late = certContext(VECTOR.certificate_pem, {
      now: new Date(sent + 55 * 60_000),
      toleranceSec: 300,
    });
    expect(await ses.verify(request(message), open(), late.ctx)).toEqual({ ok: true });
    const stale = certContext(VECTOR.certificate_pem, {
      now: new Date(sent + 66 * 60_000),
      toleranceSec: 300,
    });
    expect((await ses.verify(request(message), open(), stale.ctx)).ok).toBe(false);
    const early = certContext(VECTOR.certificate_pem, {
      now: new Date(sent - 6 * 60_000),
      toleranceSec: 300,
    });
    expect((await ses.verify(request(message), open(), early.ctx)).ok).toBe(false);
  });

  it('refuses every vector whose signed content was altered', async () => {
    const { ctx } = certContext(VECTOR.certificate_pem, { toleranceSec: 0 });
    const [v1, v2, v1Subject, v2Subject] = VECTOR.messages as [SnsFields, SnsFields, SnsFields, SnsFields];
    const { Subject: _dropped, ...withoutSubject } = v2Subject;
    const altered = [
      { ...v1, Message: 'Hello world!' },
      { ...v2, MessageId: '17dea24b-55c2-540b-8362-f916557af766' },
      { ...v1Subject, Subject: 'Hello World' },
      withoutSubject,
      { ...v2, Timestamp: '2022-07-28T21:24:08.325Z' },
      { ...v2, TopicArn: `${v2.TopicArn}x` },
      { ...v1, SignatureVersion: '2' },
      { ...v2, SignatureVersion: '3' },
    ];
    for (const message of altered) expect((await ses.verify(request(message), open(), ctx)).ok).toBe(false);
  });

  it('refuses a vector checked against another certificate', async () => {
    const { ctx } = certContext(TEST_CERT_PEM, { toleranceSec: 0 });
    expect(await ses.verify(request(VECTOR.messages[0]), open(), ctx)).toMatchObject({ ok: false });
  });

  it('refuses foreign certificate URLs without ever asking for the certificate', async () => {
    const { ctx, asked } = certContext(VECTOR.certificate_pem, { toleranceSec: 0 });
    const path = '/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem';
    const foreign = [
      `http://sns.us-east-2.amazonaws.com${path}`,
      `https://sns.evil.com${path}`,
      `https://sns.us-east-2.amazonaws.com.evil.com${path}`,
      `https://amazonaws.com.evil.com${path}`,
      `https://s3.amazonaws.com/bucket${path}`,
      `https://sns.us-east-2.amazonaws.com:8443${path}`,
      `https://user@sns.us-east-2.amazonaws.com${path}`,
      `https://sns.us-east-2.amazonaws.com${path}?x=.pem`,
      'https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.txt',
      'not a url',
    ];
    for (const url of foreign) {
      const result = await ses.verify(request({ ...VECTOR.messages[0], SigningCertURL: url }), open(), ctx);
      expect(result.ok, url).toBe(false);
    }
    expect(asked).toEqual([]);
  });

  it('refuses certificate URLs on AWS hosts that are not SNS regional endpoints, such as S3 buckets named sns', async () => {
    // Every one of these passes AWS's own validators' /^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$/.
    const { ctx, asked } = certContext(TEST_CERT_PEM);
    const hosts = [
      'sns.s3-external-1.amazonaws.com',
      'sns.s3-us-west-2.amazonaws.com',
      'sns.s3-website-us-east-1.amazonaws.com',
      'sns.s3-accelerate.amazonaws.com',
      'sns.s3-fips-us-gov-west-1.amazonaws.com',
      'sns.compute-1.amazonaws.com',
      'sns.us-east-1x.amazonaws.com',
      'sns.us-east.amazonaws.com',
      'sns.useast-1.amazonaws.com',
      'sns.us-east-1-1.amazonaws.com',
    ];
    for (const host of hosts) {
      const url = `https://${host}/SimpleNotificationService-x.pem`;
      const message = signFields({ ...snsNotification('hi'), SigningCertURL: url });
      expect(await ses.verify(request(message), open(), ctx), host).toMatchObject({
        ok: false,
        reason: 'SigningCertURL is not an https .pem URL on an Amazon SNS host',
      });
    }
    expect(asked).toEqual([]);
  });

  it('accepts the SNS host of every AWS region, GovCloud and the China partition', async () => {
    // The regions of aws/aws-sdk-js-v3 packages/util-endpoints/src/lib/aws/partitions.json (aws,
    // aws-us-gov, aws-cn) plus the announced ap-east-2 and ap-southeast-6.
    const regions = [
      ...['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'af-south-1', 'ap-east-1', 'ap-east-2'],
      ...['ap-south-1', 'ap-south-2', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3'],
      ...['ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5'],
      ...['ap-southeast-6', 'ap-southeast-7', 'ca-central-1', 'ca-west-1', 'eu-central-1', 'eu-central-2'],
      ...['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-south-1', 'eu-south-2', 'eu-north-1'],
      ...['il-central-1', 'me-south-1', 'me-central-1', 'mx-central-1', 'sa-east-1'],
      ...['us-gov-east-1', 'us-gov-west-1'],
    ];
    const hosts = [
      ...regions.map((region) => `sns.${region}.amazonaws.com`),
      'sns.cn-north-1.amazonaws.com.cn',
      'sns.cn-northwest-1.amazonaws.com.cn',
    ];
    const { ctx, asked } = certContext(TEST_CERT_PEM);
    for (const host of hosts) {
      const url = `https://${host}/SimpleNotificationService-x.pem`;
      const message = signFields({ ...snsNotification('hi'), SigningCertURL: url });
      expect(await ses.verify(request(message), open(), ctx), host).toEqual({ ok: true });
    }
    expect(asked).toHaveLength(hosts.length);
  });

  it('refuses when the certificate cannot be obtained', async () => {
    const ctx = verifyContext({ toleranceSec: 0 });
    expect(await ses.verify(request(VECTOR.messages[0]), open(), ctx)).toMatchObject({ ok: false });
  });
});

describe('Amazon SES verification of the SNS envelope', () => {
  const { ctx } = certContext(TEST_CERT_PEM);

  it('accepts a freshly signed notification with matching SNS headers', async () => {
    const message = snsNotification(fixture('event-delivery.json'));
    expect(await ses.verify(request(message, snsHeaders(message)), open(), ctx)).toEqual({ ok: true });
  });

  it('refuses SNS headers that contradict the signed body', async () => {
    const message = snsNotification(fixture('event-delivery.json'));
    for (const [header, value] of [
      ['x-amz-sns-message-type', 'SubscriptionConfirmation'],
      ['x-amz-sns-message-id', 'other-id'],
      ['x-amz-sns-topic-arn', 'arn:aws:sns:us-east-1:123456789012:other'],
    ] as const) {
      const headers = { ...snsHeaders(message), [header]: value };
      expect((await ses.verify(request(message, headers), open(), ctx)).ok, header).toBe(false);
    }
  });

  it('refuses a notification from another topic when topic_arn is pinned, and accepts its own', async () => {
    const pinned = sourceWith({ topic_arn: TEST_TOPIC });
    const foreign = snsNotification('x', { topicArn: 'arn:aws:sns:us-east-1:999999999999:attacker' });
    expect(await ses.verify(request(foreign), pinned, ctx)).toMatchObject({ ok: false });
    expect(await ses.verify(request(snsNotification('x')), pinned, ctx)).toEqual({ ok: true });
  });

  it('refuses bodies that are not SNS messages or lack a signed field', async () => {
    const message = snsNotification('x');
    const { Signature: _s, ...unsigned } = message;
    const { MessageId: _m, ...noId } = message;
    for (const body of [
      'not json',
      '[]',
      '{"Type":"Notification"}',
      { ...message, Type: 'Other' },
      unsigned,
      noId,
    ]) {
      expect((await ses.verify(request(body), open(), ctx)).ok).toBe(false);
    }
  });

  it('refuses a signature made with another key', async () => {
    const forger = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = forger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await ses.verify(request(signFields(snsNotification('x'), pem)), open(), ctx)).ok).toBe(false);
  });
});

describe('Amazon SES source configuration', () => {
  it('accepts no topic and a topic ARN, and names config.topic_arn when it is not one', () => {
    expect(ses.validateConfig({})).toEqual({});
    expect(ses.validateConfig({ topic_arn: ` ${TEST_TOPIC} ` })).toEqual({ topic_arn: TEST_TOPIC });
    expect(ses.validateConfig({ topic_arn: 'arn:aws-cn:sns:cn-north-1:123456789012:t' })).toBeTruthy();
    for (const bad of [{ topic_arn: 'ses-events' }, { topic_arn: 42 }, 'x', null]) {
      expect(() => ses.validateConfig(bad)).toThrow(MailhookError);
    }
    expect(() => ses.validateConfig({ topic_arn: 'x' })).toThrow(/config\.topic_arn/);
  });

  it('tells the user to keep raw message delivery off and to pin the topic', () => {
    const text = ses.setup(open(), 'https://hooks.example.com/ingest/src_ses');
    expect(text).toContain('https://hooks.example.com/ingest/src_ses');
    expect(text).toMatch(/raw message delivery/i);
    expect(text).toContain('topic_arn');
  });
});

describe('Amazon SES subscription handshake', () => {
  function fetcher(answer: { status: number; text: string } | Error) {
    return vi.fn<Fetcher>(async () => {
      if (answer instanceof Error) throw answer;
      return answer;
    });
  }
  const arnXml =
    '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>' +
    `${TEST_TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`;

  it('confirms a verified SubscriptionConfirmation by GETting its SubscribeURL and records it', async () => {
    const fetch = fetcher({ status: 200, text: arnXml });
    const now = new Date();
    const { ctx } = certContext(TEST_CERT_PEM, { fetch, now });
    const message = snsConfirmation('SubscriptionConfirmation', { timestamp: now });
    const req = request(message, snsHeaders(message));
    const pinned = sourceWith({ topic_arn: TEST_TOPIC });
    expect(await ses.verify(req, pinned, ctx)).toEqual({ ok: true });
    const result = await ses.handshake(req, pinned, ctx);
    expect(fetch).toHaveBeenCalledWith(
      new URL(message.SubscribeURL!).href,
      expect.objectContaining({ method: 'GET' }),
    );
    expect(result).toEqual({
      status: 200,
      body: { status: 'confirmed', topic_arn: TEST_TOPIC },
      state: {
        sns: {
          subscription: 'confirmed',
          topic_arn: TEST_TOPIC,
          subscription_arn: `${TEST_TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
          confirmed_at: now.toISOString(),
          error: null,
        },
        // The stored pin follows config.topic_arn, so removing topic_arn later keeps this topic.
        sns_topic: { topic_arn: TEST_TOPIC, pinned_at: now.toISOString(), pinned_by: 'config.topic_arn' },
      },
      store: false,
    });
  });

  it('records a failed confirmation and answers 503 so SNS tries again', async () => {
    for (const answer of [{ status: 403, text: '<Error/>' }, new Error('getaddrinfo ENOTFOUND')]) {
      const { ctx } = certContext(TEST_CERT_PEM, { fetch: fetcher(answer) });
      const result = await ses.handshake(request(snsConfirmation('SubscriptionConfirmation')), open(), ctx);
      expect(result).toMatchObject({
        status: 503,
        store: false,
        state: {
          sns: { subscription: 'confirmation_failed', topic_arn: TEST_TOPIC, error: expect.any(String) },
        },
      });
    }
  });

  it('never fetches a SubscribeURL that is not an SNS ConfirmSubscription call, even when signed', async () => {
    const fetch = fetcher({ status: 200, text: arnXml });
    const { ctx } = certContext(TEST_CERT_PEM, { fetch });
    for (const subscribeUrl of [
      'https://evil.example.com/?Action=ConfirmSubscription',
      'http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription',
      'https://sns.us-east-1.amazonaws.com/?Action=Publish',
    ]) {
      const message = snsConfirmation('SubscriptionConfirmation', { subscribeUrl });
      expect(await ses.verify(request(message), open(), ctx)).toEqual({ ok: true });
      const result = await ses.handshake(request(message), open(), ctx);
      expect(result?.state).toMatchObject({ sns: { subscription: 'confirmation_failed' } });
    }
    expect(fetch).not.toHaveBeenCalled();
  });

  it('refuses a SubscriptionConfirmation from a topic other than the pinned one', async () => {
    const { ctx } = certContext(TEST_CERT_PEM);
    const other = snsConfirmation('SubscriptionConfirmation', {
      topicArn: 'arn:aws:sns:eu-west-1:999999999999:x',
    });
    expect((await ses.verify(request(other), sourceWith({ topic_arn: TEST_TOPIC }), ctx)).ok).toBe(false);
  });

  it('records an UnsubscribeConfirmation without re-subscribing, and lets notifications through', async () => {
    const fetch = fetcher({ status: 200, text: arnXml });
    const { ctx } = certContext(TEST_CERT_PEM, { fetch });
    const message = snsConfirmation('UnsubscribeConfirmation');
    expect(await ses.verify(request(message), open(), ctx)).toEqual({ ok: true });
    expect(await ses.handshake(request(message), open(), ctx)).toMatchObject({
      status: 200,
      store: false,
      state: { sns: { subscription: 'unsubscribed', topic_arn: TEST_TOPIC } },
    });
    const pinned = sourceWith({}, { sns_topic: { topic_arn: TEST_TOPIC } });
    expect(await ses.handshake(request(snsNotification('x')), pinned, ctx)).toBeNull();
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('Amazon SES topic pinned on first use (no topic_arn)', () => {
  const OTHER = 'arn:aws:sns:eu-west-1:999999999999:attacker';
  const arnXml = '<SubscriptionArn>arn:aws:sns:us-east-1:123456789012:ses-events:1</SubscriptionArn>';
  const confirmed = async () => ({ status: 200, text: arnXml });
  const fromOther = [
    snsNotification('x', { topicArn: OTHER }),
    snsConfirmation('SubscriptionConfirmation', { topicArn: OTHER }),
    snsConfirmation('UnsubscribeConfirmation', { topicArn: OTHER }),
  ];

  it('pins the first verified SubscriptionConfirmation and refuses every other topic, whatever the type', async () => {
    const now = new Date();
    const { ctx } = certContext(TEST_CERT_PEM, { fetch: confirmed, now });
    const source = open();
    const first = request(snsConfirmation('SubscriptionConfirmation', { timestamp: now }));
    expect(await ses.verify(first, source, ctx)).toEqual({ ok: true });
    const result = await ses.handshake(first, source, ctx);
    expect(result).toMatchObject({
      status: 200,
      state: {
        sns: { subscription: 'confirmed', topic_arn: TEST_TOPIC },
        sns_topic: {
          topic_arn: TEST_TOPIC,
          pinned_at: now.toISOString(),
          pinned_by: 'SubscriptionConfirmation',
        },
      },
    });
    // `source` is what a cache still holds before the pin is stored; `stored` is the source read again.
    const stored = { ...source, state: result?.state };
    for (const view of [source, stored]) {
      for (const message of fromOther) {
        expect(await ses.verify(request(message), view, ctx), message.Type).toEqual({
          ok: false,
          reason: 'TopicArn is not the topic pinned on this source',
        });
      }
      expect(await ses.verify(request(snsNotification('x')), view, ctx)).toEqual({ ok: true });
    }
  });

  it('refuses the second of two topics whose messages are verified at the same time', async () => {
    const source = open();
    const { ctx } = certContext(TEST_CERT_PEM);
    const results = await Promise.all([
      ses.verify(request(snsConfirmation('SubscriptionConfirmation')), source, ctx),
      ses.verify(request(snsConfirmation('SubscriptionConfirmation', { topicArn: OTHER })), source, ctx),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
  });

  it('pins on the first verified notification, closing a source confirmed before pins existed', async () => {
    const now = new Date();
    const { ctx } = certContext(TEST_CERT_PEM, { now });
    const legacy = sourceWith({}, { sns: { subscription: 'confirmed', topic_arn: OTHER } });
    const notification = request(snsNotification('x'));
    expect(await ses.verify(notification, legacy, ctx)).toEqual({ ok: true });
    expect(await ses.handshake(notification, legacy, ctx)).toEqual({
      status: 200,
      state: {
        sns_topic: { topic_arn: TEST_TOPIC, pinned_at: now.toISOString(), pinned_by: 'Notification' },
      },
      store: true,
    });
    expect((await ses.verify(request(fromOther[0]), legacy, ctx)).ok).toBe(false);
  });

  it('pins nothing on an UnsubscribeConfirmation, and claims nothing with an unverified message', async () => {
    const { ctx } = certContext(TEST_CERT_PEM);
    const source = open();
    const leaving = request(fromOther[2]);
    expect(await ses.verify(leaving, source, ctx)).toEqual({ ok: true });
    expect((await ses.handshake(leaving, source, ctx))?.state).not.toHaveProperty('sns_topic');
    const forger = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedKey = forger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await ses.verify(request(signFields(fromOther[0]!, forgedKey)), source, ctx)).ok).toBe(false);
    expect(await ses.verify(request(snsNotification('x')), source, ctx)).toEqual({ ok: true });
    expect((await ses.verify(request(fromOther[0]), source, ctx)).ok).toBe(false);
  });

  it('lets config.topic_arn override a pinned topic, and moves the pin to it', async () => {
    const now = new Date();
    const { ctx } = certContext(TEST_CERT_PEM, { now });
    const moved = sourceWith({ topic_arn: OTHER }, { sns_topic: { topic_arn: TEST_TOPIC } });
    expect(await ses.verify(request(snsNotification('x')), moved, ctx)).toEqual({
      ok: false,
      reason: "TopicArn is not this source's topic_arn",
    });
    const notification = request(fromOther[0]);
    expect(await ses.verify(notification, moved, ctx)).toEqual({ ok: true });
    expect(await ses.handshake(notification, moved, ctx)).toMatchObject({
      state: { sns_topic: { topic_arn: OTHER, pinned_by: 'config.topic_arn' } },
      store: true,
    });
  });

  it('shows the pinned topic in the setup text, and how to replace it', () => {
    const pinned = sourceWith(
      {},
      {
        sns_topic: {
          topic_arn: TEST_TOPIC,
          pinned_at: '2026-01-02T03:04:05.000Z',
          pinned_by: 'Notification',
        },
      },
    );
    const text = ses.setup(pinned, 'https://hooks.example.com/ingest/src_ses');
    expect(text).toContain(`Only messages from ${TEST_TOPIC} are accepted`);
    expect(text).toContain('2026-01-02T03:04:05.000Z');
    expect(text).toContain('"topic_arn"');
    expect(ses.setup(open(), 'https://hooks.example.com/ingest/src_ses')).toMatch(/first topic .* is pinned/);
  });
});

function parseRecord(record: unknown, messageId = 'b9ee0b44-5bd4-5b2b-9a59-2c8a1a2e2d7f') {
  return ses.parse(request(snsNotification(record, { messageId })));
}

describe('Amazon SES parsing of every documented record', () => {
  const MID = 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000';
  const cases: [string, string, string, string, string | null, string | null][] = [
    // fixture, type, recipient, timestamp, bounce type, message id
    ['event-send.json', 'email.sent', 'recipient@example.com', '2016-10-14T05:02:16.645Z', null, MID],
    [
      'event-delivery.json',
      'email.delivered',
      'recipient@example.com',
      '2016-10-19T23:21:04.133Z',
      null,
      MID,
    ],
    ['event-bounce.json', 'email.bounced', 'recipient@example.com', '2017-08-05T00:41:02.669Z', 'hard', MID],
    [
      'event-bounce-transient.json',
      'email.bounced',
      'recipient@example.com',
      '2017-08-05T00:41:02.669Z',
      'soft',
      MID,
    ],
    [
      'event-bounce-undetermined.json',
      'email.bounced',
      'recipient@example.com',
      '2017-08-05T00:41:02.669Z',
      'undetermined',
      MID,
    ],
    [
      'event-bounce-suppressed.json',
      'email.dropped',
      'recipient@example.com',
      '2017-08-05T00:41:02.669Z',
      'hard',
      MID,
    ],
    [
      'event-complaint.json',
      'email.complained',
      'recipient@example.com',
      '2017-08-05T00:41:02.669Z',
      null,
      MID,
    ],
    [
      'event-reject.json',
      'email.dropped',
      'sender@example.com',
      '2016-10-14T17:38:15.211Z',
      'undetermined',
      MID,
    ],
    ['event-open.json', 'email.opened', 'recipient@example.com', '2017-08-09T22:00:19.652Z', null, MID],
    ['event-click.json', 'email.clicked', 'recipient@example.com', '2017-08-09T23:51:25.570Z', null, MID],
    [
      'event-rendering-failure.json',
      'email.failed',
      'recipient@example.com',
      '2018-01-22T18:43:06.197Z',
      null,
      MID,
    ],
    [
      'event-delivery-delay.json',
      'email.deferred',
      'recipient@example.com',
      '2020-06-16T00:25:40.095Z',
      null,
      MID,
    ],
    [
      'event-subscription.json',
      'email.unsubscribed',
      'recipient@example.com',
      '2022-01-12T01:00:17.910Z',
      null,
      'EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000',
    ],
    [
      'notification-bounce-dsn.json',
      'email.bounced',
      'jane@example.com',
      '2016-01-27T14:59:38.237Z',
      'hard',
      '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000',
    ],
    [
      'notification-complaint-feedback.json',
      'email.complained',
      'richard@example.com',
      '2016-01-27T14:59:38.237Z',
      null,
      '000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000',
    ],
    [
      'notification-complaint-no-feedback.json',
      'email.complained',
      'richard@example.com',
      '2016-01-27T14:59:38.237Z',
      null,
      '0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000',
    ],
    [
      'notification-delivery.json',
      'email.delivered',
      'jane@example.com',
      '2016-01-27T14:59:38.237Z',
      null,
      '0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000',
    ],
  ];

  for (const [name, type, recipient, timestamp, bounceType, messageId] of cases) {
    it(`maps ${name} to one ${type} for ${recipient}`, () => {
      const record = fixture(name);
      const { events, skipped } = parseRecord(record, 'sns-message-1');
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const event = events[0]!;
      expect(event.type).toBe(type);
      expect(event.data.recipient).toBe(recipient);
      expect(event.timestamp.toISOString()).toBe(timestamp);
      expect(event.data.message_id).toBe(messageId);
      expect(event.data.provider_event_id).toBe('sns-message-1');
      expect(event.data.bounce?.type ?? null).toBe(bounceType);
      expect(event.dedupKey).toBe(
        type.endsWith('subscribed') ? `sns-message-1:${recipient}:${type}:*` : `sns-message-1:${recipient}`,
      );
      expect(event.data.raw).toEqual(record);
    });
  }

  it('keeps bounce status and diagnostic code, and falls back to the bounce type without a DSN', () => {
    expect(parseRecord(fixture('event-bounce.json')).events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: 'smtp; 550 5.1.1 user unknown',
    });
    const [jane, richard] = parseRecord(fixture('notification-bounce-no-dsn.json')).events as [
      ParsedEvent,
      ParsedEvent,
    ];
    expect([jane.data.recipient, richard.data.recipient]).toEqual([
      'jane@example.com',
      'richard@example.com',
    ]);
    expect(jane.data.bounce).toEqual({ type: 'hard', code: null, reason: 'Permanent: General' });
    expect(jane.dedupKey).not.toBe(richard.dedupKey);
  });

  it('reports opens and clicks with the reader’s IP, user agent and link', () => {
    const [opened] = parseRecord(fixture('event-open.json')).events;
    expect(opened?.data).toMatchObject({ ip: '192.0.2.1', open: { machine: false } });
    expect(opened?.data.user_agent).toMatch(/^Mozilla\/5\.0 \(iPhone/);
    const [clicked] = parseRecord(fixture('event-click.json')).events;
    expect(clicked?.data.click).toEqual({
      url: 'http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html',
    });
    expect(clicked?.data.tags).toEqual([
      'myCustomTag1:myCustomValue1',
      'myCustomTag2:myCustomValue2',
      'samplekey0:samplevalue0',
      'samplekey1:samplevalue1',
    ]);
  });

  it('turns mail.tags into name:value tags (own tags) and a metadata object (all tags)', () => {
    const [event] = parseRecord(fixture('event-delivery.json')).events;
    expect(event?.data.tags).toEqual(['myCustomTag1:myCustomTagValue1', 'myCustomTag2:myCustomTagValue2']);
    expect(event?.data.metadata).toEqual({
      'ses:configuration-set': 'ConfigSet',
      'ses:source-ip': '192.0.2.0',
      'ses:from-domain': 'example.com',
      'ses:caller-identity': 'ses_user',
      'ses:outgoing-ip': '192.0.2.0',
      myCustomTag1: 'myCustomTagValue1',
      myCustomTag2: 'myCustomTagValue2',
    });
    expect(parseRecord(fixture('notification-delivery.json')).events[0]?.data).toMatchObject({
      tags: [],
      metadata: {},
    });
  });

  it('turns topic preference changes into unsubscribes and resubscribes per topic', () => {
    const { events } = parseRecord(fixture('event-subscription-topics.json'), 'sub-1');
    expect(events.map((e) => [e.type, e.data.unsubscribe, e.dedupKey])).toEqual([
      [
        'email.resubscribed',
        { group: 'ExampleTopicName' },
        'sub-1:recipient@example.com:email.resubscribed:ExampleTopicName',
      ],
      [
        'email.unsubscribed',
        { group: 'Promotions' },
        'sub-1:recipient@example.com:email.unsubscribed:Promotions',
      ],
    ]);
    expect(parseRecord(fixture('event-subscription.json')).events[0]?.data.unsubscribe).toEqual({
      group: null,
    });
  });

  it('makes one event per recipient, and gives a recipient listed twice the same dedup key', () => {
    const send = fixture('event-send.json');
    const mail = send.mail as Record<string, unknown>;
    mail.destination = ['A@example.com', '"Bee" <b@example.com>', 'a@example.com'];
    const { events } = parseRecord(send, 'multi');
    expect(events.map((e) => e.data.recipient)).toEqual(['a@example.com', 'b@example.com', 'a@example.com']);
    expect(events.map((e) => e.dedupKey)).toEqual([
      'multi:a@example.com',
      'multi:b@example.com',
      'multi:a@example.com',
    ]);
  });

  it('accepts the RenderingFailure spelling of SES APIs as well as the documented "Rendering Failure"', () => {
    const record = { ...fixture('event-rendering-failure.json'), eventType: 'RenderingFailure' };
    expect(parseRecord(record).events.map((e) => e.type)).toEqual(['email.failed']);
  });

  it('treats a complaint for an address on the account suppression list as a drop', () => {
    const record = fixture('event-complaint.json');
    (record.complaint as Record<string, unknown>).complaintSubType = 'OnAccountSuppressionList';
    expect(parseRecord(record).events[0]).toMatchObject({
      type: 'email.dropped',
      data: { bounce: { type: 'undetermined' } },
    });
  });
});

describe('Amazon SES parsing of messages that are not email events', () => {
  it('acknowledges and skips plain-text messages, test messages and unknown types', () => {
    const texts = [
      readFileSync(join(FIXTURES, 'sns-topic-validated-message.txt'), 'utf8'),
      fixture('notification-subscription-succeeded.json'),
      { notificationType: 'Received', mail: {}, receipt: {} },
      { eventType: 'SomethingNew', mail: { messageId: 'm', destination: ['a@example.com'] } },
      { hello: 'world' },
      [1, 2],
    ];
    for (const message of texts) {
      const result = parseRecord(message);
      expect(result.events).toEqual([]);
      expect(result.skipped).toEqual([{ index: 0, reason: expect.any(String) }]);
    }
    const confirmation = ses.parse(request(snsConfirmation('SubscriptionConfirmation')));
    expect(confirmation).toMatchObject({ events: [], skipped: [{ index: 0 }] });
  });

  it('quarantines a body that is no SNS message and an SES record missing its recipients', () => {
    expect(() => ses.parse(request('not json'))).toThrow(MalformedPayloadError);
    const bounce = fixture('event-bounce.json');
    delete (bounce.bounce as Record<string, unknown>).bouncedRecipients;
    expect(() => parseRecord(bounce)).toThrow(MalformedPayloadError);
    expect(() => parseRecord({ eventType: 'Open', open: {} })).toThrow(MalformedPayloadError);
  });
});

describe('Amazon SES timestamps', () => {
  it('reads SES time formats exactly, including offsets and microseconds', () => {
    expect(parseSesTime('2017-08-05T00:41:02.669Z')?.toISOString()).toBe('2017-08-05T00:41:02.669Z');
    expect(parseSesTime('2018-10-08T14:05:45 +0000')?.toISOString()).toBe('2018-10-08T14:05:45.000Z');
    expect(parseSesTime('2024-04-25T18:08:04.973666+03:00')?.toISOString()).toBe('2024-04-25T15:08:04.973Z');
    expect(parseSesTime('2016-01-27T14:59:38')?.toISOString()).toBe('2016-01-27T14:59:38.000Z');
    for (const bad of ['yesterday', '2016-13-45T99:00:00Z', 1453906778, null])
      expect(parseSesTime(bad)).toBeNull();
  });
});
