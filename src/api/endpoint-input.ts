import { checkTargetUrl, type Lookup } from '../delivery/ssrf.js';
import { MailhookError } from '../errors.js';
import { decodeWebhookSecret } from '../providers/crypto.js';
import { MASKED_HEADER_VALUE } from './endpoint-views.js';

/** Checks on endpoint input beyond the JSON schema: the target URL, custom headers, secrets. */

/** Headers mailhook sets itself; a custom header may not replace them. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'connection',
  'transfer-encoding',
  // undici refuses these on every request: an endpoint carrying one would fail every attempt.
  'keep-alive',
  'upgrade',
  'expect',
]);

/** What undici (and RFC 9110's field-value) allows: tab, visible ASCII, space and obs-text bytes. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function validateHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name))
      throw new MailhookError('MH_ERR_VALIDATION', `"${name}" is not a valid header name`);
    if (RESERVED_HEADERS.has(lower)) {
      throw new MailhookError(
        'MH_ERR_VALIDATION',
        `header "${name}" is set by mailhook and cannot be overridden`,
      );
    }
    // A client that reads an endpoint and writes its headers back would otherwise replace every
    // real value with the mask, and every delivery would carry "[redacted]" from then on.
    if (value === MASKED_HEADER_VALUE) {
      throw new MailhookError(
        'MH_ERR_VALIDATION',
        `header "${name}" is "${MASKED_HEADER_VALUE}", the mask endpoint answers show instead of values: send the real value (GET /v1/endpoints/{id}/headers reveals the current ones)`,
      );
    }
    if (/[\r\n]/.test(value))
      throw new MailhookError('MH_ERR_VALIDATION', `header "${name}" contains a line break`);
    if (INVALID_HEADER_VALUE.test(value)) {
      throw new MailhookError(
        'MH_ERR_VALIDATION',
        `header "${name}" holds a character HTTP does not allow in a header value (control characters, or non-Latin-1 text: encode it first)`,
      );
    }
    // defineProperty: a header named __proto__ is a header, not the object's prototype.
    Object.defineProperty(result, lower, { value, enumerable: true, writable: true, configurable: true });
  }
  return result;
}

export function validateSecret(secret: string): string {
  if (!decodeWebhookSecret(secret)) {
    throw new MailhookError(
      'MH_ERR_VALIDATION',
      'secret must be whsec_ followed by base64 of at least 16 bytes',
    );
  }
  return secret;
}

/** Refuses URLs that are not http(s) or that point at private addresses (unless allowed). */
export async function validateTargetUrl(
  url: string,
  allowPrivate: boolean,
  lookup?: Lookup,
): Promise<string> {
  // The URL parser would quietly turn a space into %20 (and drop one at either end): a pasted URL
  // with a stray space would be saved as another URL than the one the user meant.
  const at = [...url].findIndex((c) => c <= ' ' || c === '\x7f' || /\s/.test(c));
  if (at >= 0) {
    const c = [...url][at] as string;
    const what =
      c === ' '
        ? 'a space'
        : `a blank or control character (U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')})`;
    throw new MailhookError(
      'MH_ERR_VALIDATION',
      `url contains ${what} at position ${at + 1}: remove it, or percent-encode it (%20) if it belongs in the URL`,
    );
  }
  const check = await checkTargetUrl(url, { allowPrivate, ...(lookup && { lookup }) });
  if (!check.ok) throw new MailhookError('MH_ERR_ENDPOINT_URL_REFUSED', `url refused: ${check.reason}`);
  return new URL(url).toString();
}
