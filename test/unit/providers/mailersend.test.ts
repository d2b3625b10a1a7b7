import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import {
  MAILERSEND_TEST_SECRET,
  mailerSendSignature,
  mailersend,
} from '../../../src/providers/mailersend.js';
import { parseTimestamp } from '../../../src/providers/mailersend-payload.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures');
const SECRET = 'Zk3pWq8RtY2uIo9PaS4dFg7HjK1lXc6V';

interface Vector {
  secret: string;
  body: string;
  signature: string;
  negative: Array<{ case: string; secret: string; body: string; signature: string }>;
}
const VECTOR = JSON.parse(
  readFileSync(join(FIXTURES, 'vectors/mailersend/vector-mailersend-nodejs-sdk.json'), 'utf8'),
) as Vector;

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, 'mailersend', `${name}.json`), 'utf8'));
}

function source(config: Record<string, unknown> = { signing_secret: SECRET }): Source {
  return adapterSource(mailersend, config);
}

/** MailerSend escapes "/" in its JSON bodies; the signature covers those exact bytes. */
function serialise(payload: unknown): string {
  return JSON.stringify(payload).replaceAll('/', '\\/');
}

/** Signs as MailerSend documents it, independently of the adapter. */
function sign(body: string, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function request(body: string, headers: Record<string, string> = {}): RawRequest {
  return rawRequest(body, { 'content-type': 'application/json', ...headers });
}

function signed(payload: unknown, secret = SECRET): RawRequest {
  const body = serialise(payload);
  return request(body, { signature: sign(body, secret) });
}

const ctx = verifyContext();

describe('MailerSend signature verification', () => {
  it('reproduces the official mailersend-nodejs SDK vector and refuses its negative cases', () => {
    expect(mailerSendSignature(VECTOR.secret, VECTOR.body)).toBe(VECTOR.signature);
    const req = request(VECTOR.body, { signature: VECTOR.signature });
    expect(mailersend.verify(req, source({ signing_secret: VECTOR.secret }), ctx)).toEqual({ ok: true });
    for (const negative of VECTOR.negative) {
      const bad = request(negative.body, { signature: negative.signature });
      const result = mailersend.verify(bad, source({ signing_secret: negative.secret }), ctx);
      expect(result.ok, negative.case).toBe(false);
    }
  });

  it('accepts an upper-case hex signature and an event of any age, since no timestamp is signed', () => {
    const body = serialise(fixture('v2/sent'));
    const req = request(body, { signature: sign(body).toUpperCase() });
    const late = verifyContext({ now: new Date('2035-01-01T00:00:00Z') });
    expect(mailersend.verify(req, source(), late)).toEqual({ ok: true });
  });

  it('refuses a tampered body, a wrong secret, a missing header and a source without secret', () => {
    const body = serialise(fixture('v2/hard_bounced'));
    const signature = sign(body);
    const cases: Array<[RawRequest, Source]> = [
      [request(body.replace('Recipient@', 'Other@'), { signature }), source()],
      [request(body, { signature: sign(body, 'not-the-secret') }), source()],
      [request(body), source()],
      [request(body, { signature }), source({})],
    ];
    for (const [req, src] of cases) {
      const result = mailersend.verify(req, src, ctx);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).not.toContain(SECRET);
    }
  });

  it('accepts the URL-validation ping signed with the public test secret, and answers it without storing', async () => {
    const ping = signed(fixture('ping'), MAILERSEND_TEST_SECRET);
    for (const src of [source(), source({})]) {
      expect(mailersend.verify(ping, src, ctx)).toEqual({ ok: true });
    }
    expect(await mailersend.handshake(ping)).toEqual({ status: 200, body: { status: 'ok' }, store: false });
    expect(mailersend.parse(ping)).toEqual({
      events: [],
      skipped: [{ index: 0, reason: 'MailerSend event "webhook.test" is not an email event mailhook maps' }],
    });
  });

  it('refuses a real event signed with the public test secret', async () => {
    const forged = signed(fixture('v2/hard_bounced'), MAILERSEND_TEST_SECRET);
    expect(mailersend.verify(forged, source(), ctx).ok).toBe(false);
    expect(mailersend.verify(forged, source({}), ctx).ok).toBe(false);
    expect(await mailersend.handshake(signed(fixture('v2/sent')))).toBeNull();
  });
});

describe('MailerSend source config', () => {
  it('accepts a source without secret yet and trims a given one', () => {
    expect(mailersend.validateConfig({})).toEqual({});
    expect(mailersend.validateConfig({ signing_secret: ` ${SECRET} ` })).toEqual({ signing_secret: SECRET });
  });

  it('rejects an empty or non-string secret', () => {
    expect(() => mailersend.validateConfig({ signing_secret: '' })).toThrow(/config.signing_secret/);
    expect(() => mailersend.validateConfig({ signing_secret: ['x'] })).toThrow(/config.signing_secret/);
    expect(() => mailersend.validateConfig(null)).toThrow(/config object/);
  });
});

const V2 = {
  sent: ['email.sent', '2025-08-05T21:23:54.000Z', '55'],
  delivered: ['email.delivered', '2025-08-05T21:23:56.000Z', '56'],
  deferred: ['email.deferred', '2025-08-05T21:23:58.000Z', '59'],
  soft_bounced: ['email.bounced', '2025-08-05T21:24:02.000Z', '57'],
  hard_bounced: ['email.bounced', '2025-08-05T21:24:02.000Z', '58'],
  opened: ['email.opened', '2025-08-05T21:30:01.123Z', '5a'],
  opened_unique: ['email.opened', '2025-08-05T21:30:01.000Z', '5b'],
  clicked: ['email.clicked', '2025-08-05T21:31:05.000Z', '5e'],
  clicked_unique: ['email.clicked', '2025-08-05T21:31:05.000Z', '60'],
  unsubscribed: ['email.unsubscribed', '2025-08-05T21:35:20.000Z', '5c'],
  spam_complaint: ['email.complained', '2025-08-05T21:36:40.000Z', '5d'],
  suppressed: ['email.dropped', '2025-08-05T21:23:54.000Z', '5f'],
} as const;

describe('MailerSend 2.0 payloads', () => {
  for (const [name, [type, timestamp, id]] of Object.entries(V2)) {
    it(`maps activity.${name} to ${type}`, () => {
      const payload = fixture(`v2/${name}`);
      const { events, skipped } = mailersend.parse(signed(payload));
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type,
        dedupKey: `6892766a5b66e2daf3dc91${id}`,
        data: {
          provider_event_id: `6892766a5b66e2daf3dc91${id}`,
          message_id: '6892766ae78995a317577aa1',
          recipient: 'recipient@example.com',
          tags: ['test', 'test2'],
          metadata: {},
          raw: payload,
        },
      });
      expect(events[0]?.timestamp.toISOString()).toBe(timestamp);
      if (!['soft_bounced', 'hard_bounced', 'suppressed'].includes(name)) {
        expect(events[0]?.data.bounce).toBeUndefined();
      }
    });
  }

  it('classifies bounces from the event type with the code and reason from meta', () => {
    expect(mailersend.parse(signed(fixture('v2/hard_bounced'))).events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '550',
      reason: 'Host or domain name not found',
    });
    expect(mailersend.parse(signed(fixture('v2/soft_bounced'))).events[0]?.data.bounce).toEqual({
      type: 'soft',
      code: '452',
      reason: 'Mailbox full',
    });
    expect(mailersend.parse(signed(fixture('v2/suppressed'))).events[0]?.data.bounce).toEqual({
      type: 'undetermined',
      code: null,
      reason: 'on_hold',
    });
  });

  it('reads ip, user agent and click URL from meta', () => {
    const click = mailersend.parse(signed(fixture('v2/clicked'))).events[0];
    expect(click?.data).toMatchObject({
      ip: '192.0.2.44',
      user_agent: 'Mozilla/5.0 (Macintosh) AppleWebKit/537.36',
      click: { url: 'https://example.com/test' },
    });
    const open = mailersend.parse(signed(fixture('v2/opened'))).events[0];
    expect(open?.data).toMatchObject({ ip: '192.0.2.44', open: { machine: false } });
    const unsub = mailersend.parse(signed(fixture('v2/unsubscribed'))).events[0];
    expect(unsub?.data.unsubscribe).toEqual({ group: null });
  });

  it("reads the documentation example's recipient from data.email", () => {
    const event = mailersend.parse(signed(fixture('v2/sent-docs-example'))).events[0];
    expect(event?.data.recipient).toBe('test@mailersend.com');
  });

  it('skips survey, maintenance and other non-email events', () => {
    expect(mailersend.parse(signed(fixture('v2/survey_opened'))).skipped).toEqual([
      { index: 0, reason: 'MailerSend event "activity.survey_opened" is not an email event mailhook maps' },
    ]);
    expect(mailersend.parse(signed(fixture('maintenance-start'))).events).toEqual([]);
  });
});

const V1 = {
  sent: ['email.sent', '2020-11-27T10:08:06.258Z', '5fc0d006b42c3e16e1774882', 'test@mailersend.com'],
  delivered: [
    'email.delivered',
    '2020-11-27T10:08:09.101Z',
    '5fc0d008c9a7b8f14a0f5c11',
    'test@mailersend.com',
  ],
  soft_bounced: [
    'email.bounced',
    '2020-11-27T10:16:18.747Z',
    '5fc0d1f2a0b4c52e0c4d7e21',
    'test@mailersend.com',
  ],
  hard_bounced: [
    'email.bounced',
    '2020-11-27T10:19:15.593Z',
    '5fc0d2a31c3d8e0a7b5e9f32',
    'invalid@example.com',
  ],
  opened: ['email.opened', '2020-11-27T10:24:37.025Z', '5fc0d3e5532bd6cc700a793b', 'test@mailersend.com'],
  clicked: ['email.clicked', '2020-11-27T10:25:39.691Z', '5fc0d423afa3c770b00da7d3', 'test@mailersend.com'],
  unsubscribed: [
    'email.unsubscribed',
    '2020-11-27T10:32:34.791Z',
    '5fc0d5c23f2bdd360e07d6b2',
    'test@mailersend.com',
  ],
  spam_complaint: [
    'email.complained',
    '2020-11-27T10:37:44.747Z',
    '5fc0d6f8165fe0d8db0288e5',
    'test@mailersend.com',
  ],
} as const;

describe('MailerSend 1.0 (legacy) payloads', () => {
  for (const [name, [type, timestamp, id, recipient]] of Object.entries(V1)) {
    it(`maps activity.${name} with the activity time from data.created_at`, () => {
      const payload = fixture(`v1/${name}`);
      const event = mailersend.parse(signed(payload)).events[0];
      expect(event).toMatchObject({
        type,
        dedupKey: id,
        data: {
          provider_event_id: id,
          message_id: '5fc0d003f718c90162341852',
          recipient,
          metadata: {},
          raw: payload,
        },
      });
      expect(event?.timestamp.toISOString()).toBe(timestamp);
    });
  }

  it('takes bounce reasons, click URL and ip from morph', () => {
    expect(mailersend.parse(signed(fixture('v1/hard_bounced'))).events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: null,
      reason: 'Host or domain name not found',
    });
    expect(mailersend.parse(signed(fixture('v1/soft_bounced'))).events[0]?.data.bounce?.type).toBe('soft');
    expect(mailersend.parse(signed(fixture('v1/clicked'))).events[0]?.data).toMatchObject({
      ip: '192.0.2.10',
      click: { url: 'https://www.mailersend.com/features' },
    });
    expect(mailersend.parse(signed(fixture('v1/delivered'))).events[0]?.data.tags).toEqual(['welcome']);
    expect(mailersend.parse(signed(fixture('v1/sent'))).events[0]?.data.tags).toEqual([]);
  });
});

describe('MailerSend parsing edge cases', () => {
  it('parses microsecond, offset and zone-less timestamps exactly to the millisecond', () => {
    expect(parseTimestamp('2020-11-27T10:08:08.298647Z')?.toISOString()).toBe('2020-11-27T10:08:08.298Z');
    expect(parseTimestamp('2020-11-27T12:08:08.5+02:00')?.toISOString()).toBe('2020-11-27T10:08:08.500Z');
    expect(parseTimestamp('2025-08-05 22:27:14')?.toISOString()).toBe('2025-08-05T22:27:14.000Z');
    expect(parseTimestamp('yesterday')).toBeNull();
  });

  it('throws MalformedPayloadError for bodies it cannot understand', () => {
    const sent = fixture('v2/sent');
    const data = sent.data as Record<string, unknown>;
    const bodies = [
      'not json',
      '[]',
      '{"data":{}}',
      serialise({ type: 'activity.sent' }),
      serialise({ ...sent, data: { ...data, recipient: undefined } }),
      serialise({ ...sent, created_at: 'soon' }),
    ];
    for (const body of bodies) {
      expect(() => mailersend.parse(request(body)), body).toThrow(MalformedPayloadError);
    }
  });

  it('falls back to a deterministic hash when an activity has no id', () => {
    const sent = fixture('v2/sent');
    const payload = { ...sent, data: { ...(sent.data as object), id: undefined } };
    const first = mailersend.parse(signed(payload)).events[0]?.dedupKey;
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(mailersend.parse(signed(payload)).events[0]?.dedupKey).toBe(first);
  });

  it('names the URL and the secret to copy in its setup text', () => {
    const text = mailersend.setup(source(), 'https://hooks.example.com/ingest/src_ms');
    expect(text).toContain('Endpoint URL: https://hooks.example.com/ingest/src_ms');
    expect(text).toContain('config.signing_secret');
  });
});
