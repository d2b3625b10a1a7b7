import { type KeyObject, verify as verifySignature, X509Certificate } from 'node:crypto';
import { rejected, unverifiable, type Verification, type VerifyContext, verified } from './types.js';

/**
 * The Amazon SNS HTTP(S) envelope: reading it, checking its signature, and the URL rules that keep
 * mailhook from fetching anything but Amazon SNS. Sources: "Verifying the signatures of Amazon SNS
 * messages" (SNS developer guide) and AWS's own validators (aws-php-sns-message-validator
 * `src/MessageValidator.php`, aws-js-sns-message-validator `index.js`).
 */

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

const MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'Notification',
  'SubscriptionConfirmation',
  'UnsubscribeConfirmation',
]);

export interface SnsEnvelope {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  /** Only when the publisher set one (SES event publishing does); signed only when present. */
  Subject?: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  /** Subscription and unsubscribe confirmations only. */
  SubscribeURL?: string;
  Token?: string;
}

/** The signed keys, in the byte order the SNS documentation prescribes for each message type. */
const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_KEYS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

/** Lambda-style payloads spell these `…Url`; AWS's validators accept both, so do we. */
const URL_ALIASES = [
  ['SigningCertURL', 'SigningCertUrl'],
  ['SubscribeURL', 'SubscribeUrl'],
] as const;

export type EnvelopeResult = { ok: true; envelope: SnsEnvelope } | { ok: false; reason: string };

/** Parses and shape-checks an SNS envelope; never throws. */
export function readEnvelope(body: Buffer): EnvelopeResult {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'body is not an SNS JSON message' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'body is not an SNS JSON message' };
  }
  const fields: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [canonical, alias] of URL_ALIASES) {
    if (fields[canonical] === undefined && fields[alias] !== undefined) fields[canonical] = fields[alias];
  }
  if (typeof fields.Type !== 'string' || !MESSAGE_TYPES.has(fields.Type)) {
    return {
      ok: false,
      reason: 'not an SNS Notification, SubscriptionConfirmation or UnsubscribeConfirmation',
    };
  }
  const required = [
    'MessageId',
    'TopicArn',
    'Message',
    'Timestamp',
    'SignatureVersion',
    'Signature',
    'SigningCertURL',
  ];
  if (fields.Type !== 'Notification') required.push('SubscribeURL', 'Token');
  for (const key of required) {
    if (typeof fields[key] !== 'string') return { ok: false, reason: `SNS message has no ${key}` };
  }
  // A null Subject means "no subject" (AWS's JS validator skips nil values); anything else must be text.
  if (fields.Subject === null) delete fields.Subject;
  if (fields.Subject !== undefined && typeof fields.Subject !== 'string') {
    return { ok: false, reason: 'SNS Subject is not a string' };
  }
  return { ok: true, envelope: fields as unknown as SnsEnvelope };
}

/** `Key\nValue\n` for each signed key present, in the documented order. */
export function stringToSign(envelope: SnsEnvelope): string {
  const keys = envelope.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  let text = '';
  for (const key of keys) {
    const value = envelope[key];
    if (value !== undefined) text += `${key}\n${value}\n`;
  }
  return text;
}

/**
 * `sns.<region>.amazonaws.com`: commercial regions (`us-east-1`, `ap-southeast-5`, `il-central-1`…),
 * GovCloud (`us-gov-west-1`), and `.com.cn` for China (`cn-north-1`). The region must have the shape
 * of one, as the AWS SDKs' partition patterns do (`^(us|eu|ap|…)-\w+-\d+$`, `^us-gov-\w+-\d+$`,
 * `^cn-\w+-\d+$`); any two-letter geography, so a new region works on the day it opens.
 * AWS's validators accept `sns.<any 3+ of [a-z0-9-]>.amazonaws.com`, which includes S3 endpoints
 * such as `sns.s3-external-1.amazonaws.com` — where a bucket named `sns` could serve a certificate.
 * The ISO and European Sovereign Cloud partitions have other DNS suffixes and are not accepted.
 */
const SNS_HOST = /^sns\.[a-z]{2}(?:-gov)?-[a-z]+-\d+\.amazonaws\.com(?:\.cn)?$/;

/** An https URL on an SNS host (default port, no credentials), or null. */
export function snsUrl(value: string): URL | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '') return null;
  return SNS_HOST.test(url.hostname) ? url : null;
}

/** `SigningCertURL` must be an SNS-hosted `.pem` file; checked before anything is fetched. */
export function certificateUrl(value: string): URL | null {
  const url = snsUrl(value);
  if (url?.search !== '' || url.hash !== '' || !url.pathname.endsWith('.pem')) return null;
  return url;
}

/**
 * SNS holds a message for at most one hour and resends it unchanged (same `Timestamp`, same
 * signature) until then (SNS "delivery retry policies"). A late retry refused with a 4xx is never
 * sent again, so the freshness window is the tolerance plus that hour into the past, and only the
 * tolerance into the future. Replays inside the window are harmless: the SNS MessageId is part of
 * every dedup key.
 */
export const SNS_MESSAGE_LIFETIME_SEC = 3600;

const SNS_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export function checkSnsFreshness(
  timestamp: string,
  ctx: Pick<VerifyContext, 'now' | 'toleranceSec'>,
): Verification {
  const ms = SNS_TIMESTAMP.test(timestamp) ? Date.parse(timestamp) : Number.NaN;
  if (Number.isNaN(ms)) return rejected('SNS Timestamp is not an ISO 8601 UTC time');
  if (ctx.toleranceSec === 0) return verified;
  const ageSec = (ctx.now.getTime() - ms) / 1000;
  if (ageSec > ctx.toleranceSec + SNS_MESSAGE_LIFETIME_SEC) {
    return rejected('SNS Timestamp is older than the SNS retry window');
  }
  if (-ageSec > ctx.toleranceSec) return rejected('SNS Timestamp is in the future');
  return verified;
}

const keyCache = new Map<string, KeyObject>();

/**
 * The RSA public key of a signing certificate. Validity dates and the chain are not checked, like
 * AWS's own validators: the certificate's authenticity comes from fetching it over TLS from a pinned
 * SNS host (or from an operator-seeded directory), and an archived message must stay verifiable.
 */
function publicKeyOf(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = new X509Certificate(pem).publicKey;
    if (key.asymmetricKeyType !== 'rsa') throw new Error('SNS signing certificates carry RSA keys');
    if (keyCache.size > 100) keyCache.clear();
    keyCache.set(pem, key);
  }
  return key;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA (PKCS#1 v1.5) over the string to sign. */
export async function verifySnsSignature(envelope: SnsEnvelope, ctx: VerifyContext): Promise<Verification> {
  const version = envelope.SignatureVersion;
  const algorithm = version === '1' ? 'sha1' : version === '2' ? 'sha256' : null;
  if (!algorithm) return rejected('unsupported SNS SignatureVersion');
  if (!BASE64.test(envelope.Signature)) return rejected('SNS Signature is not base64');
  const url = certificateUrl(envelope.SigningCertURL);
  if (!url) return rejected('SigningCertURL is not an https .pem URL on an Amazon SNS host');
  let key: KeyObject;
  try {
    key = publicKeyOf(await ctx.snsCertificate(url.href));
  } catch {
    return unverifiable('SNS signing certificate could not be obtained');
  }
  try {
    const data = Buffer.from(stringToSign(envelope), 'utf8');
    const ok = verifySignature(algorithm, data, key, Buffer.from(envelope.Signature, 'base64'));
    return ok ? verified : rejected('SNS signature does not match');
  } catch {
    return rejected('SNS signature is malformed');
  }
}
