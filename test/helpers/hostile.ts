import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { between, pick } from './random.js';
import { type SendGridSigner, sendGridSigner } from './sendgrid.js';

/**
 * Hostile request material for property tests and the mutated-request loop against a real server:
 * random bytes, truncated and byte-flipped fixtures, fixtures with a node of the wrong type, deep
 * nesting, huge strings, and garbage in every header a provider adapter reads.
 */

const FIXTURES = join(import.meta.dirname, '../fixtures');

export interface ProviderConfigs {
  /** A valid source config per provider id (a test fails when the registry has one more). */
  configs: Record<string, Record<string, unknown>>;
  sendgrid: SendGridSigner;
  postalKeys: { publicKey: KeyObject; privateKey: KeyObject };
  standardSecret: string;
}

/** Valid credentials for a source of every provider, with the keys to sign for the signing ones. */
export function providerConfigs(): ProviderConfigs {
  const standardSecret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const sendgrid = sendGridSigner();
  const postalKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const credentials = { basic_auth: { username: 'provider', password: 'correct-horse-battery' } };
  return {
    sendgrid,
    postalKeys,
    standardSecret,
    configs: {
      sendgrid: { public_key: sendgrid.publicKey },
      standard: { secret: standardSecret },
      resend: { secret: standardSecret },
      loops: { secret: standardSecret },
      mailgun: { signing_key: 'key-fuzz-0123456789abcdef' },
      mandrill: { webhook_key: 'mandrill-fuzz-key-0123' },
      mailersend: { signing_secret: 'mailersend-fuzz-secret-0123' },
      postal: { public_key: postalKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      ses: { topic_arn: 'arn:aws:sns:us-east-1:123456789012:ses-events' },
      postmark: credentials,
      sparkpost: credentials,
      mailjet: credentials,
      brevo: credentials,
      smtp2go: credentials,
      elasticemail: credentials,
    },
  };
}

/** Every header name any adapter reads, plus the generic ones. */
export const HEADER_NAMES = [
  'content-type',
  'authorization',
  'x-twilio-email-event-webhook-signature',
  'x-twilio-email-event-webhook-timestamp',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'x-mandrill-signature',
  'signature',
  'x-postal-signature',
  'x-postal-signature-256',
  'x-amz-sns-message-type',
  'x-amz-sns-message-id',
  'x-amz-sns-topic-arn',
  'x-mailgun-variables',
  'message-id',
];
export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'multipart/form-data',
  'text/plain',
  'text/plain; charset=UTF-8',
  '',
  '*/*',
];

/** Every fixture file, as the raw bytes a provider could send (the corpus mutations start from). */
export function corpus(): Buffer[] {
  const files: Buffer[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(json|query|form|txt)$/.test(name)) files.push(readFileSync(path));
    }
  };
  walk(FIXTURES);
  return files;
}

export const CORPUS = corpus();

export type Random = () => number;

export function randomBytes(random: Random, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

export function randomText(random: Random, length: number): string {
  const alphabet = 'abcxyz0189{}[]":,.=&%+/\\-_ \r\n\t\u00e9\u2603\ud83d\ude00';
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
  return text;
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  Number.MAX_SAFE_INTEGER,
  '',
  'x'.repeat(10_000),
  [],
  {},
  [null],
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
  '2026-13-45T99:99:99Z',
  '\u0000',
];

/** Replaces one random node of a JSON value with a value of another type. */
export function mutateJson(random: Random, value: unknown, depth = 0): unknown {
  if (depth > 0 && random() < 0.25) return pick(random, WEIRD_VALUES);
  if (Array.isArray(value)) {
    if (value.length === 0) return pick(random, WEIRD_VALUES);
    const copy = [...value];
    const i = Math.floor(random() * copy.length);
    copy[i] = mutateJson(random, copy[i], depth + 1);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return pick(random, WEIRD_VALUES);
    const key = pick(random, keys);
    return {
      ...(value as Record<string, unknown>),
      [key]: mutateJson(random, (value as Record<string, unknown>)[key], depth + 1),
    };
  }
  return pick(random, WEIRD_VALUES);
}

/** One hostile body, with a label saying how it was made (for failure messages). */
export function hostileBody(random: Random): { label: string; body: Buffer } {
  const base = pick(random, CORPUS);
  switch (between(random, 0, 8)) {
    case 0:
      return { label: 'random bytes', body: randomBytes(random, between(random, 0, 2048)) };
    case 1:
      return { label: 'random text', body: Buffer.from(randomText(random, between(random, 0, 2048))) };
    case 2:
      return { label: 'truncated fixture', body: base.subarray(0, between(random, 0, base.length)) };
    case 3: {
      const body = Buffer.from(base);
      for (let n = between(random, 1, 8); n > 0 && body.length > 0; n--) {
        body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
      }
      return { label: 'byte-flipped fixture', body };
    }
    case 4: {
      try {
        const mutated = mutateJson(random, JSON.parse(base.toString('utf8')));
        return { label: 'fixture with a wrong type', body: Buffer.from(JSON.stringify(mutated) ?? 'null') };
      } catch {
        return { label: 'fixture (not JSON)', body: base };
      }
    }
    case 5: {
      const depth = pick(random, [100, 5000, 100_000]);
      const open = pick(random, ['[', '{"a":']);
      const close = open === '[' ? ']' : '}';
      return { label: `nesting ${depth} deep`, body: Buffer.from(open.repeat(depth) + close.repeat(depth)) };
    }
    case 6: {
      const huge = 'A'.repeat(pick(random, [65_536, 1_000_000]));
      return {
        label: 'huge string values',
        body: Buffer.from(JSON.stringify([{ event: huge, email: huge, timestamp: huge, sg_event_id: huge }])),
      };
    }
    case 7:
      return {
        label: 'JSON scalars and empties',
        body: Buffer.from(
          pick(random, ['', 'null', '0', '""', '[]', '{}', '[null]', '[[]]', 'true', '\ufeff[]']),
        ),
      };
    default:
      return {
        label: 'form of random fields',
        body: Buffer.from(
          new URLSearchParams({
            [randomText(random, 8)]: randomText(random, 64),
            mandrill_events: randomText(random, 64),
          }).toString(),
        ),
      };
  }
}

export function hostileHeaders(random: Random): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of HEADER_NAMES) {
    if (random() < 0.5) continue;
    headers[name] =
      name === 'content-type'
        ? pick(random, CONTENT_TYPES)
        : pick(random, [
            '',
            randomText(random, between(random, 1, 200)),
            randomBytes(random, 32).toString('base64'),
            `v1,${randomBytes(random, 32).toString('base64')}`,
            `v1,${randomBytes(random, 32).toString('base64')} v1a,${randomText(random, 10)}`,
            String(Math.floor(Date.now() / 1000)),
            String(between(random, -1e9, 1e10)),
            `Basic ${Buffer.from(`${randomText(random, 8)}:${randomText(random, 12)}`).toString('base64')}`,
            'Basic cHJvdmlkZXI6',
          ]);
  }
  // Rarely, one header far over any server's header limit (most requests must reach the adapters).
  if (random() < 0.02) headers[pick(random, HEADER_NAMES)] = 'x'.repeat(100_000);
  return headers;
}

export function hostileQuery(random: Random): string {
  return pick(random, [
    '',
    randomText(random, 100),
    'token=',
    `token=${randomText(random, 20)}&event=sent`,
    '%',
    '%%%',
    'a=1&a=2&a',
  ]);
}
