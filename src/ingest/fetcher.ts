import { request } from 'undici';
import type { Fetcher } from '../providers/types.js';

const MAX_BODY = 256 * 1024;

/**
 * The fetcher adapters get (SNS certificates and subscription confirmations): a bounded GET with a
 * timeout that follows no redirects and reads at most 256 KB. Adapters check the URL before calling.
 */
export const httpFetcher: Fetcher = async (url, init = {}) => {
  const res = await request(url, {
    method: init.method ?? 'GET',
    headersTimeout: init.timeoutMs ?? 5000,
    bodyTimeout: init.timeoutMs ?? 5000,
    maxRedirections: 0,
  } as Parameters<typeof request>[1]);
  let text = '';
  for await (const chunk of res.body) {
    text += chunk.toString();
    if (text.length > MAX_BODY) {
      res.body.destroy();
      throw new Error(`response from ${new URL(url).host} is larger than ${MAX_BODY} bytes`);
    }
  }
  return { status: res.statusCode, text };
};
