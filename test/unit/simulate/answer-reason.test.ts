import { describe, expect, it } from 'vitest';
import { reasonOf, Tally } from '../../../src/simulate/stats.js';

describe('the reason of an unexpected answer', () => {
  it("is mailhook's error code and message", () => {
    expect(
      reasonOf(
        '{"code":"MH_ERR_SIGNATURE_INVALID","message":"source has no public_key yet (SendGrid Verification Key)"}',
      ),
    ).toBe('MH_ERR_SIGNATURE_INVALID: source has no public_key yet (SendGrid Verification Key)');
  });

  it("is the start of the text on one line when the body is not mailhook's (a proxy's page)", () => {
    expect(reasonOf('<html>\n  <b>502 Bad Gateway</b>\n</html>')).toBe(
      '<html> <b>502 Bad Gateway</b> </html>',
    );
    expect(reasonOf('x'.repeat(1000))).toHaveLength(200);
    expect(reasonOf('')).toBeUndefined();
    expect(reasonOf('{}')).toBe('{}');
  });

  it('is shown next to the status in the examples of the summary', () => {
    const tally = new Tally();
    tally.add({ kind: 'valid', status: 401, reason: 'MH_ERR_SIGNATURE_INVALID: no key', latencyMs: 1 });
    tally.add({
      kind: 'bad',
      status: 401,
      reason: 'MH_ERR_SIGNATURE_INVALID: signature does not match',
      latencyMs: 1,
    });
    tally.add({ kind: 'valid', status: 500, latencyMs: 1 });
    const summary = tally.summary({
      provider: 'sendgrid',
      url: 'http://127.0.0.1:1/ingest/src_x',
      seed: 1,
      events: 2,
      requests: { valid: 2, duplicates: 0, bad_signatures: 1, total: 3 },
      duration_ms: 10,
      interrupted: false,
    });
    expect(summary.unexpected.examples).toEqual([
      'valid request → 401 (MH_ERR_SIGNATURE_INVALID: no key)',
      'valid request → 500',
    ]);
  });
});
