import { MailhookError } from '../errors.js';
import { asConfigObject, safeEqual } from './crypto.js';
import { type RawRequest, rejected, type Verification, type VerifyContext, verified } from './types.js';

/**
 * Providers that sign nothing (Postmark, SparkPost, Mailjet, Brevo, SMTP2GO, Elastic Email) are
 * authenticated by what the user configured on both sides: HTTP basic auth (credentials in the
 * webhook URL or the provider's auth settings) and/or a secret header. Both are compared in constant
 * time; when both are configured, both must match.
 */
export interface CredentialConfig {
  basic_auth?: { username: string; password: string };
  header?: { name: string; value: string };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function stringField(object: unknown, key: string, where: string): string {
  const value = (object as Record<string, unknown> | null)?.[key];
  if (typeof value !== 'string' || value === '') {
    throw new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', `${where}.${key} must be a non-empty string`);
  }
  return value;
}

export function validateCredentialConfig(config: unknown, provider: string): CredentialConfig {
  const object = asConfigObject(config, provider);
  const result: CredentialConfig = {};
  if (object.basic_auth !== undefined) {
    const username = stringField(object.basic_auth, 'username', `${provider} config.basic_auth`);
    const password = stringField(object.basic_auth, 'password', `${provider} config.basic_auth`);
    if (username.includes(':')) {
      throw new MailhookError(
        'MH_ERR_INVALID_SOURCE_CONFIG',
        'config.basic_auth.username may not contain ":"',
      );
    }
    if (password.length < 12) {
      throw new MailhookError(
        'MH_ERR_INVALID_SOURCE_CONFIG',
        'config.basic_auth.password must be at least 12 characters',
      );
    }
    result.basic_auth = { username, password };
  }
  if (object.header !== undefined) {
    const name = stringField(object.header, 'name', `${provider} config.header`);
    const value = stringField(object.header, 'value', `${provider} config.header`);
    if (!HEADER_NAME.test(name)) {
      throw new MailhookError(
        'MH_ERR_INVALID_SOURCE_CONFIG',
        `config.header.name "${name}" is not a header name`,
      );
    }
    if (value.length < 16) {
      throw new MailhookError(
        'MH_ERR_INVALID_SOURCE_CONFIG',
        'config.header.value must be at least 16 characters',
      );
    }
    result.header = { name: name.toLowerCase(), value };
  }
  if (!result.basic_auth && !result.header) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      `${provider} signs nothing, so its sources need config.basic_auth {username, password} and/or config.header {name, value}`,
    );
  }
  return result;
}

export function verifyCredentials(req: RawRequest, config: Record<string, unknown>): Verification {
  const { basic_auth: basic, header } = config as CredentialConfig;
  if (!basic && !header) return rejected('source has no credentials configured');
  if (basic) {
    const auth = req.headers.authorization ?? '';
    const match = /^Basic\s+(\S+)$/i.exec(auth);
    if (!match?.[1]) return rejected('missing basic auth credentials');
    const expected = Buffer.from(`${basic.username}:${basic.password}`).toString('base64');
    if (!safeEqual(match[1], expected)) return rejected('basic auth credentials do not match');
  }
  if (header) {
    const value = req.headers[header.name];
    if (value === undefined) return rejected(`missing ${header.name} header`);
    if (!safeEqual(value, header.value)) return rejected(`${header.name} header does not match`);
  }
  return verified;
}

/**
 * `validateConfig` and `verify` of a provider that signs nothing and sends no timestamp: there is no
 * freshness window, only the configured credentials.
 */
export function credentialAuth(provider: string) {
  return {
    validateConfig: (config: unknown): Record<string, unknown> => ({
      ...validateCredentialConfig(config, provider),
    }),
    verify: (
      req: RawRequest,
      source: { config: Record<string, unknown> },
      _ctx?: VerifyContext,
    ): Verification => {
      try {
        return verifyCredentials(req, source.config);
      } catch {
        // A malformed stored config must refuse the request, never crash the route.
        return rejected('credentials could not be checked');
      }
    },
  };
}

/** Setup text lines shared by credential-only providers. */
export function credentialSetup(config: Record<string, unknown>, ingestUrl: string): string[] {
  const { basic_auth: basic, header } = config as CredentialConfig;
  const lines: string[] = [];
  if (basic) {
    const url = new URL(ingestUrl);
    url.username = encodeURIComponent(basic.username);
    url.password = '<password>';
    lines.push(`Webhook URL with basic auth: ${url.toString().replace('%3Cpassword%3E', '<password>')}`);
    lines.push("(or the plain URL with the same username and password in the provider's basic-auth fields)");
  } else {
    lines.push(`Webhook URL: ${ingestUrl}`);
  }
  if (header) lines.push(`Custom header: ${header.name}: <the value configured on this source>`);
  return lines;
}
