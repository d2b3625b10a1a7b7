import { MalformedPayloadError } from '../errors.js';

/**
 * JSON.parse that keeps integers beyond 2^53 exact, as strings. Mailjet's MessageID (e.g.
 * 19421777835146490) and similar ids would otherwise be silently rounded. Integers within the safe
 * range stay numbers.
 */
export function parseJsonLossless(text: string): unknown {
  let quoted = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const isStart = c === 0x2d || (c >= 0x30 && c <= 0x39);
    if (!isStart) continue;
    let j = i + 1;
    while (j < text.length && /[0-9.eE+-]/.test(text.charAt(j))) j++;
    const token = text.slice(i, j);
    if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
      quoted += `${text.slice(last, i)}"${token}"`;
      last = j;
    }
    i = j - 1;
  }
  return JSON.parse(last === 0 ? text : quoted + text.slice(last));
}

/** Parses a verified body as JSON (losslessly), or throws the quarantine error. */
export function parseBodyJson(body: Buffer): unknown {
  try {
    return parseJsonLossless(body.toString('utf8'));
  } catch (err) {
    throw new MalformedPayloadError('body is not valid JSON', { cause: err });
  }
}

/** Parses an application/x-www-form-urlencoded body into its fields (repeated fields keep the last). */
export function parseForm(body: Buffer | string): Record<string, string> {
  const params = new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'));
  const fields: Record<string, string> = {};
  for (const [key, value] of params) fields[key] = value;
  return fields;
}
