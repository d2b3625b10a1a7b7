import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { KeyFiles } from './types.js';

/** `--key` is missing or malformed; the CLI reports it as a usage error (exit 2). */
export class KeyError extends Error {}

/** Exactly one `--key`. */
export function oneKey(keys: string[], provider: string, what: string): string {
  const [key, ...rest] = keys;
  if (key === undefined || key === '') throw new KeyError(`--provider ${provider} needs --key ${what}`);
  if (rest.length > 0) throw new KeyError(`--provider ${provider} takes one --key (${what})`);
  return key;
}

/** What credential-only providers (they sign nothing) send: basic auth, a secret header, a URL token. */
export interface Credentials {
  basic?: { username: string; password: string };
  header?: { name: string; value: string };
  /** Elastic Email only: `mh_token` in the notification URL. */
  token?: string;
}

export const CREDENTIALS_HELP =
  'user:pass (basic auth) and/or header:<name>:<value> (a secret header); give --key twice for both';

/**
 * `user:pass`, `header:<name>:<value>` or (with `allowToken`) `token:<value>`; several `--key`
 * values combine (the source then checks all of them).
 */
export function parseCredentials(keys: string[], provider: string, allowToken = false): Credentials {
  if (keys.length === 0) {
    const forms = allowToken ? `token:<value>, ${CREDENTIALS_HELP}` : CREDENTIALS_HELP;
    throw new KeyError(`--provider ${provider} needs --key ${forms}`);
  }
  const credentials: Credentials = {};
  for (const key of keys) {
    if (key.startsWith('header:')) {
      const rest = key.slice('header:'.length);
      const colon = rest.indexOf(':');
      if (colon <= 0 || colon === rest.length - 1)
        throw new KeyError('--key header:<name>:<value> needs both');
      credentials.header = { name: rest.slice(0, colon).toLowerCase(), value: rest.slice(colon + 1) };
    } else if (key.startsWith('token:')) {
      // Read as user "token" it would fail at the server with a puzzling 401.
      if (!allowToken)
        throw new KeyError(`--key token:<value> is for elasticemail; ${provider} takes ${CREDENTIALS_HELP}`);
      const token = key.slice('token:'.length);
      if (token === '') throw new KeyError('--key token:<value> needs a value');
      credentials.token = token;
    } else {
      const colon = key.indexOf(':');
      if (colon <= 0 || colon === key.length - 1) {
        throw new KeyError(`--key "${key.slice(0, 20)}…" is not user:pass or header:<name>:<value>`);
      }
      credentials.basic = { username: key.slice(0, colon), password: key.slice(colon + 1) };
    }
  }
  return credentials;
}

/** The same credentials with every secret changed: the source must refuse them. */
export function forgeCredentials(credentials: Credentials, suffix: string): Credentials {
  return {
    ...(credentials.basic && {
      basic: { username: credentials.basic.username, password: `${credentials.basic.password}${suffix}` },
    }),
    ...(credentials.header && {
      header: { name: credentials.header.name, value: `${credentials.header.value}${suffix}` },
    }),
    ...(credentials.token && { token: `${credentials.token}${suffix}` }),
  };
}

export function credentialsConfig(credentials: Credentials): Record<string, unknown> {
  return {
    ...(credentials.basic && { basic_auth: { ...credentials.basic } }),
    ...(credentials.header && { header: { ...credentials.header } }),
    ...(credentials.token && { query_token: credentials.token }),
  };
}

/** Adds the basic-auth and secret-header lines to a request's headers. */
export function credentialHeaders(credentials: Credentials): Record<string, string> {
  const headers: Record<string, string> = {};
  if (credentials.basic) {
    const { username, password } = credentials.basic;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (credentials.header) headers[credentials.header.name] = credentials.header.value;
  return headers;
}

/** Reads a PEM private key file and checks its type (`ec` P-256 for SendGrid, `rsa` for Postal and SNS). */
export function readPrivateKey(path: string, files: KeyFiles, type: 'ec' | 'rsa'): KeyObject {
  let pem: string;
  try {
    pem = files.read(path);
  } catch (err) {
    throw new KeyError(
      `cannot read the key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new KeyError(`${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== type)
    throw new KeyError(`${path} is not an ${type.toUpperCase()} private key`);
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new KeyError(`${path} is not a P-256 (prime256v1) key`);
  }
  return key;
}
