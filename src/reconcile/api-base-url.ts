import { MailhookError } from '../errors.js';

/** Plain http is taken only on the loopback, for local fakes of a provider's API. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A source's `api_base_url`, checked and without a trailing slash: https (http only on the loopback),
 * no credentials, query or fragment, since the API key is sent to it. `example` ends each message.
 */
export function apiBaseUrl(provider: string, value: string, example: string): string {
  const invalid = (message: string) =>
    new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      `${provider} config.api_base_url ${message} ${example}`,
    );
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid('is not a URL');
  }
  const local = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !local)
    throw invalid('must use https (http only for 127.0.0.1 or localhost)');
  if (url.username || url.password || url.search || url.hash)
    throw invalid('must have no credentials, query or fragment');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
