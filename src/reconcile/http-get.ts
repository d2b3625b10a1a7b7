import { request } from 'undici';
import type { HttpGet } from './types.js';

/** Large enough for a provider's fullest documented page (SparkPost: up to 10,000 events). */
const MAX_BODY = 64 * 1024 * 1024;

/**
 * The GET readers use against a provider's API: a timeout, no redirects (a redirect could carry the
 * API key to another host) and a bounded body.
 */
export function httpGet(timeoutMs = 30_000): HttpGet {
  return async (url, headers) => {
    const res = await request(url, {
      method: 'GET',
      headers: { 'user-agent': 'mailhook-reconcile', accept: 'application/json', ...headers },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > MAX_BODY) {
        res.body.destroy();
        throw new Error(`answer from ${new URL(url).host} is larger than ${MAX_BODY} bytes`);
      }
      chunks.push(chunk);
    }
    const answerHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined)
        answerHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: res.statusCode, headers: answerHeaders, text: Buffer.concat(chunks).toString('utf8') };
  };
}
