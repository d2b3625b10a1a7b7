import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { sendgrid } from '../../../src/providers/sendgrid.js';
import type { Source, VerifyContext } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';
import { verifyContext } from '../../helpers/verify-context.js';

const VECTORS = join(import.meta.dirname, '../../fixtures/vectors/sendgrid');
const FIXTURES = join(import.meta.dirname, '../../fixtures/sendgrid');

interface Vector {
  public_key_base64_spki_der: string;
  headers: Record<string, string>;
  body: string;
}

function loadVector(file: string): Vector {
  return JSON.parse(readFileSync(join(VECTORS, file), 'utf8')) as Vector;
}

function sourceWith(publicKey: string): Source {
  return adapterSource(sendgrid, { public_key: publicKey });
}

const noFreshness: VerifyContext = verifyContext({ toleranceSec: 0 });
const fiveMinutes = (now = new Date()): VerifyContext => verifyContext({ now, toleranceSec: 300 });

describe('SendGrid verification against the official SDK vectors', () => {
  const vector = loadVector('vector-nodejs-sdk.json');
  const source = sourceWith(vector.public_key_base64_spki_der);

  it('accepts the sendgrid-nodejs vector', () => {
    expect(sendgrid.verify(rawRequest(vector.body, vector.headers), source, noFreshness)).toEqual({
      ok: true,
    });
  });

  it('refuses the vector with a changed body', () => {
    expect(sendgrid.verify(rawRequest('payload', vector.headers), source, noFreshness).ok).toBe(false);
  });

  it('refuses the vector with a non-numeric timestamp', () => {
    const headers = { ...vector.headers, 'X-Twilio-Email-Event-Webhook-Timestamp': 'timestamp' };
    expect(sendgrid.verify(rawRequest(vector.body, headers), source, noFreshness).ok).toBe(false);
  });

  it('refuses the vector with a signature altered in one character', () => {
    const headers = {
      ...vector.headers,
      'X-Twilio-Email-Event-Webhook-Signature':
        'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=',
    };
    expect(sendgrid.verify(rawRequest(vector.body, headers), source, noFreshness).ok).toBe(false);
  });

  it('refuses the vector under another public key', () => {
    const other = sourceWith(
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==',
    );
    expect(sendgrid.verify(rawRequest(vector.body, vector.headers), other, noFreshness).ok).toBe(false);
  });

  it('accepts the sendgrid-python vector whose signed body ends in CRLF, and refuses it without the CRLF', () => {
    const crlf = loadVector('vector-python-sdk-crlf.json');
    const crlfSource = sourceWith(crlf.public_key_base64_spki_der);
    expect(crlf.body.endsWith('\r\n')).toBe(true);
    expect(sendgrid.verify(rawRequest(crlf.body, crlf.headers), crlfSource, noFreshness).ok).toBe(true);
    expect(sendgrid.verify(rawRequest(crlf.body.trimEnd(), crlf.headers), crlfSource, noFreshness).ok).toBe(
      false,
    );
  });

  it('refuses the vector as stale once the freshness check is on', () => {
    expect(sendgrid.verify(rawRequest(vector.body, vector.headers), source, fiveMinutes())).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance window',
    });
  });
});

describe('SendGrid verification cross-checked with @sendgrid/eventwebhook', () => {
  const sdk = new EventWebhook();
  const signer = sendGridSigner();
  const source = sourceWith(signer.publicKey);
  const sdkKey = sdk.convertPublicKeyToECDSA(signer.publicKey);

  it('accepts what the official verifier accepts, for many generated batches', () => {
    for (let i = 0; i < 20; i++) {
      const body = sendGridBody(sendGridEvents(1 + (i % 5)));
      const headers = signer.headers(body);
      const ts = headers['x-twilio-email-event-webhook-timestamp'] ?? '';
      const sig = headers['x-twilio-email-event-webhook-signature'] ?? '';
      expect(sdk.verifySignature(sdkKey, body, sig, ts)).toBe(true);
      expect(sendgrid.verify(rawRequest(body, headers), source, fiveMinutes()).ok).toBe(true);
    }
  });

  it('refuses tampered bodies and timestamps exactly as the official verifier does', () => {
    const body = sendGridBody(sendGridEvents(3));
    const headers = signer.headers(body);
    const ts = headers['x-twilio-email-event-webhook-timestamp'] ?? '';
    const sig = headers['x-twilio-email-event-webhook-signature'] ?? '';
    const tampered = body.replace('delivered', 'bounce');
    expect(sdk.verifySignature(sdkKey, tampered, sig, ts)).toBe(false);
    expect(sendgrid.verify(rawRequest(tampered, headers), source, fiveMinutes()).ok).toBe(false);
    const otherTs = String(Number(ts) - 1);
    const shifted = { ...headers, 'x-twilio-email-event-webhook-timestamp': otherTs };
    expect(sdk.verifySignature(sdkKey, body, sig, otherTs)).toBe(false);
    expect(sendgrid.verify(rawRequest(body, shifted), source, fiveMinutes()).ok).toBe(false);
  });
});

describe('SendGrid verification of headers and freshness', () => {
  const signer = sendGridSigner();
  const source = sourceWith(signer.publicKey);
  const body = sendGridBody(sendGridEvents(2));

  it('refuses a request without the signature headers', () => {
    expect(
      sendgrid.verify(rawRequest(body, { 'content-type': 'application/json' }), source, fiveMinutes()).ok,
    ).toBe(false);
  });

  it('refuses a timestamp older or further in the future than the tolerance', () => {
    const now = new Date();
    const nowSec = Math.floor(now.getTime() / 1000);
    expect(
      sendgrid.verify(rawRequest(body, signer.headers(body, nowSec - 301)), source, fiveMinutes(now)).ok,
    ).toBe(false);
    expect(
      sendgrid.verify(rawRequest(body, signer.headers(body, nowSec + 301)), source, fiveMinutes(now)).ok,
    ).toBe(false);
    expect(
      sendgrid.verify(rawRequest(body, signer.headers(body, nowSec - 299)), source, fiveMinutes(now)).ok,
    ).toBe(true);
  });

  it('refuses a garbage signature without throwing', () => {
    const headers = { ...signer.headers(body), 'x-twilio-email-event-webhook-signature': '!!not base64!!' };
    expect(sendgrid.verify(rawRequest(body, headers), source, fiveMinutes()).ok).toBe(false);
  });

  it('refuses every request while the source has no public key yet', () => {
    const keyless: Source = { ...source, config: sendgrid.validateConfig({}) };
    expect(sendgrid.verify(rawRequest(body, signer.headers(body)), keyless, fiveMinutes()).ok).toBe(false);
  });

  it('rejects a config whose public key is not a P-256 key', () => {
    expect(() => sendgrid.validateConfig({ public_key: 'not-a-key' })).toThrow(/public_key/);
    expect(() => sendgrid.validateConfig({ public_key: 42 })).toThrow(/public_key/);
  });

  it('accepts the public key with PEM armour and line breaks', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${signer.publicKey.match(/.{1,64}/g)?.join('\n')}\n-----END PUBLIC KEY-----\n`;
    expect(sendgrid.validateConfig({ public_key: pem })).toEqual({ public_key: signer.publicKey });
  });
});

function fixture(name: string): Record<string, unknown>[] {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>[];
}

function parseFixture(name: string) {
  const events = fixture(name);
  const result = sendgrid.parse(rawRequest(sendGridBody(events), {}));
  return { source: events, ...result };
}

describe('SendGrid parsing of every documented event type', () => {
  const expectations: Array<[string, string]> = [
    ['processed', 'email.sent'],
    ['dropped', 'email.dropped'],
    ['deferred', 'email.deferred'],
    ['delivered', 'email.delivered'],
    ['bounce', 'email.bounced'],
    ['blocked', 'email.bounced'],
    ['open', 'email.opened'],
    ['open-machine', 'email.opened'],
    ['click', 'email.clicked'],
    ['spamreport', 'email.complained'],
    ['unsubscribe', 'email.unsubscribed'],
    ['group_unsubscribe', 'email.unsubscribed'],
    ['group_resubscribe', 'email.resubscribed'],
  ];

  it('has a fixture for every mapped event type', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'batch-mixed.json');
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(
      expectations.map(([name]) => name).sort(),
    );
  });

  for (const [name, type] of expectations) {
    it(`maps the ${name} fixture to ${type} with its identity fields`, () => {
      const { source, events, skipped } = parseFixture(name);
      const original = source[0] as Record<string, unknown>;
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(type);
      expect(event?.dedupKey).toBe(original.sg_event_id);
      expect(event?.data.provider_event_id).toBe(original.sg_event_id);
      expect(event?.data.recipient).toBe(String(original.email).toLowerCase());
      expect(event?.timestamp.getTime()).toBe(Number(original.timestamp) * 1000);
      expect(event?.data.raw).toEqual(original);
      expect(event?.data.metadata).toMatchObject({ user_id: 'usr_48213', tenant: 'acme-eu' });
      expect(event?.data.metadata).not.toHaveProperty('sg_event_id');
      const sgMessageId = original.sg_message_id;
      if (typeof sgMessageId === 'string') expect(event?.data.message_id).toBe(sgMessageId.split('.')[0]);
    });
  }

  it('classifies a bounce of type "bounce" as hard with its status code and reason', () => {
    const [event] = parseFixture('bounce').events;
    expect(event?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: expect.stringContaining('does not exist'),
    });
  });

  it('classifies a bounce of type "blocked" as soft', () => {
    const [event] = parseFixture('blocked').events;
    expect(event?.data.bounce?.type).toBe('soft');
  });

  it('classifies a bounce without a type from its status code', () => {
    const [event] = sendgrid.parse(
      rawRequest(sendGridBody([{ ...fixture('bounce')[0], type: undefined, status: '4.2.2' }]), {}),
    ).events;
    expect(event?.data.bounce?.type).toBe('soft');
  });

  it('marks a drop for a bounced address as hard and a drop for an unsubscribe as undetermined', () => {
    const [bounced] = parseFixture('dropped').events;
    expect(bounced?.data.bounce).toMatchObject({ type: 'hard', reason: 'Bounced Address' });
    const [unsub] = sendgrid.parse(
      rawRequest(sendGridBody([{ ...fixture('dropped')[0], reason: 'Unsubscribed Address' }]), {}),
    ).events;
    expect(unsub?.data.bounce?.type).toBe('undetermined');
  });

  it('flags machine opens and leaves human opens unflagged', () => {
    expect(parseFixture('open-machine').events[0]?.data.open).toEqual({ machine: true });
    expect(parseFixture('open').events[0]?.data.open).toEqual({ machine: false });
  });

  it('carries the clicked URL', () => {
    const { source, events } = parseFixture('click');
    expect(events[0]?.data.click).toEqual({ url: source[0]?.url });
  });

  it('scopes group unsubscribes and resubscribes to their group and global unsubscribes to none', () => {
    expect(parseFixture('group_unsubscribe').events[0]?.data.unsubscribe).toEqual({ group: '4821' });
    expect(parseFixture('unsubscribe').events[0]?.data.unsubscribe).toEqual({ group: null });
    expect(parseFixture('group_resubscribe').events[0]?.data.unsubscribe?.group).not.toBeNull();
  });

  it('turns a category string or array into tags', () => {
    expect(parseFixture('bounce').events[0]?.data.tags).toEqual(['password-reset']);
    const [event] = sendgrid.parse(
      rawRequest(sendGridBody([{ ...fixture('delivered')[0], category: ['a', 'b'] }]), {}),
    ).events;
    expect(event?.data.tags).toEqual(['a', 'b']);
  });

  it('falls back to the smtp-id when an asynchronous bounce has no sg_message_id', () => {
    const [event] = sendgrid.parse(
      rawRequest(sendGridBody([{ ...fixture('bounce')[0], sg_message_id: undefined }]), {}),
    ).events;
    expect(event?.data.message_id).toBe('Yw9eR4kDTJ2bFa6nUq1XpQ@ismtpd0104p1mdw1.sendgrid.net');
  });

  it('splits a mixed batch into one event per element, in order', () => {
    const { source, events } = parseFixture('batch-mixed');
    expect(events.map((e) => e.dedupKey)).toEqual(source.map((e) => e.sg_event_id));
  });

  it('skips, with a reason, events that are not email events and keeps the rest', () => {
    const body = sendGridBody([
      {
        event: 'account_status_change',
        type: 'compliance_suspend',
        timestamp: 1718035201,
        sg_event_id: 'x1',
      },
      ...fixture('delivered'),
    ]);
    const result = sendgrid.parse(rawRequest(body, {}));
    expect(result.events).toHaveLength(1);
    expect(result.skipped).toEqual([{ index: 0, reason: expect.stringContaining('account_status_change') }]);
  });

  it('reads a timestamp given in milliseconds', () => {
    const [event] = sendgrid.parse(
      rawRequest(sendGridBody([{ ...fixture('delivered')[0], timestamp: 1718035206123 }]), {}),
    ).events;
    expect(event?.timestamp.toISOString()).toBe('2024-06-10T16:00:06.123Z');
  });

  it('throws a malformed-payload error for invalid JSON, non-object items and missing fields', () => {
    expect(() => sendgrid.parse(rawRequest('[{"event":', {}))).toThrow(MalformedPayloadError);
    expect(() => sendgrid.parse(rawRequest('[42]', {}))).toThrow(/not a JSON object/);
    expect(() => sendgrid.parse(rawRequest('[{"email":"a@b.c","timestamp":1}]', {}))).toThrow(/"event"/);
    expect(() => sendgrid.parse(rawRequest('[{"event":"delivered","timestamp":1}]', {}))).toThrow(/"email"/);
    expect(() => sendgrid.parse(rawRequest('[{"event":"delivered","email":"a@b.c"}]', {}))).toThrow(
      /timestamp/,
    );
  });

  it('gives an event without sg_event_id a stable content hash as its dedup key', () => {
    const body = sendGridBody([{ ...fixture('delivered')[0], sg_event_id: undefined }]);
    const first = sendgrid.parse(rawRequest(body, {})).events[0]?.dedupKey;
    const second = sendgrid.parse(rawRequest(body, {})).events[0]?.dedupKey;
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second).toBe(first);
  });
});
