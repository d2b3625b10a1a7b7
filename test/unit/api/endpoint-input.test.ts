import { describe, expect, it } from 'vitest';
import { validateHeaders } from '../../../src/api/endpoint-input.js';
import { MailhookError } from '../../../src/errors.js';

function refusal(headers: Record<string, string>): string {
  try {
    validateHeaders(headers);
  } catch (err) {
    expect(err).toBeInstanceOf(MailhookError);
    expect((err as MailhookError).code).toBe('MH_ERR_VALIDATION');
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(headers)}`);
}

describe('validateHeaders (custom headers of an endpoint)', () => {
  it('keeps valid headers, names in lower case, Latin-1 and tabs allowed in values', () => {
    expect(
      validateHeaders({ 'X-Tenant': 'acme', Authorization: 'Bearer t', 'X-Note': 'caf\u00e9\tok' }),
    ).toEqual({
      'x-tenant': 'acme',
      authorization: 'Bearer t',
      'x-note': 'caf\u00e9\tok',
    });
    expect(validateHeaders(undefined)).toEqual({});
  });

  it('keeps a header named __proto__ as an ordinary header', () => {
    const headers = validateHeaders(JSON.parse('{"__proto__": "x"}') as Record<string, string>);
    expect(Object.keys(headers)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('x');
  });

  it('refuses the headers mailhook sets and those the HTTP client refuses on every request', () => {
    for (const name of [
      'Content-Type',
      'host',
      'webhook-signature',
      'Transfer-Encoding',
      'Keep-Alive',
      'Upgrade',
      'Expect',
    ]) {
      expect(refusal({ [name]: 'x' }), name).toMatch(/set by mailhook/);
    }
  });

  it('refuses line breaks, control characters and text outside Latin-1 in values, and bad names', () => {
    expect(refusal({ 'x-a': 'a\r\nb: c' })).toMatch(/line break/);
    expect(refusal({ 'x-a': 'a\u0001b' })).toMatch(/does not allow/);
    expect(refusal({ 'x-a': 'snow \u2603' })).toMatch(/does not allow/);
    expect(refusal({ 'x-a': 'del\u007f' })).toMatch(/does not allow/);
    expect(refusal({ 'bad name': 'x' })).toMatch(/not a valid header name/);
  });

  it('refuses the mask endpoint answers show instead of values, so a read-then-write cannot store it', () => {
    expect(refusal({ 'x-tenant': '[redacted]' })).toMatch(/GET \/v1\/endpoints\/\{id\}\/headers/);
    expect(validateHeaders({ 'x-note': 'the [redacted] part' })).toEqual({ 'x-note': 'the [redacted] part' });
  });
});
