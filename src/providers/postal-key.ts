import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { MailhookError } from '../errors.js';

/**
 * Postal signs webhooks with the RSA key in `postal.signing_key_path` (`signing.key`). Users can find
 * its public half in several shapes, and all of them are accepted here and stored as one SPKI PEM:
 * - a PEM public key (`openssl rsa -in signing.key -pubout`, SPKI or PKCS#1);
 * - the JWK (or a one-key JWKS) served at `https://<postal-host>/.well-known/jwks.json` (Postal ≥ 3);
 * - the DKIM record printed by `postal default-dkim-record` (whole record or its `p=` value), which
 *   older installs publish from the same key (what django-anymail documents for Postal).
 */
const MIN_MODULUS_BITS = 1024;

function invalid(message: string, cause?: unknown): MailhookError {
  return new MailhookError(
    'MH_ERR_INVALID_SOURCE_CONFIG',
    `postal config.public_key ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fromJwk(value: Record<string, unknown>): KeyObject {
  let jwk: Record<string, unknown> = value;
  if (Array.isArray(value.keys)) {
    // A JWKS: Postal serves exactly one signing key; with several we cannot guess which one signs.
    if (value.keys.length !== 1 || !isObject(value.keys[0])) {
      throw invalid('is a key set with more than one key; paste the single key whose kid Postal sends');
    }
    jwk = value.keys[0];
  }
  if (jwk.kty !== 'RSA') throw invalid('is a JWK but not an RSA key');
  if ('d' in jwk) throw invalid('is a private JWK; paste only the public key');
  // Only the public members: createPublicKey would otherwise keep whatever else was pasted.
  return createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e } as JsonWebKey, format: 'jwk' });
}

function fromDer(base64: string): KeyObject {
  const der = Buffer.from(base64, 'base64');
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
  }
}

function fromText(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw invalid('looks like JSON but does not parse', err);
    }
    if (!isObject(parsed)) throw invalid('is JSON but not a JWK');
    return fromJwk(parsed);
  }
  if (/PRIVATE KEY-----/.test(trimmed)) {
    // signing.key is the private key: never store it; the public half is all verification needs.
    throw invalid(
      'is a private key; paste the public key instead (openssl rsa -in signing.key -pubout, or /.well-known/jwks.json)',
    );
  }
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  const dkim = /(?:^|;)\s*p=([A-Za-z0-9+/=\s"]+)/.exec(trimmed);
  const base64 = (dkim?.[1] ?? trimmed).replace(/[\s"]+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw invalid('is not a PEM, JWK, DKIM record or base64 key');
  return fromDer(base64);
}

/** Parses whatever shape of Postal public key the user pasted; throws a config error otherwise. */
export function parsePostalPublicKey(input: unknown): KeyObject {
  let key: KeyObject;
  try {
    if (typeof input === 'string' && input.trim() !== '') key = fromText(input);
    else if (isObject(input)) key = fromJwk(input);
    else throw invalid('is required (the public half of the Postal server signing key)');
  } catch (err) {
    if (err instanceof MailhookError) throw err;
    throw invalid('could not be read as an RSA public key', err);
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalid('must be an RSA key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_MODULUS_BITS) throw invalid(`must be at least ${MIN_MODULUS_BITS} bits`);
  return key;
}

/** The canonical stored form: SPKI PEM. */
export function toPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
