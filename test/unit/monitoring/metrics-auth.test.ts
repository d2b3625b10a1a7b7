import { describe, expect, it, vi } from 'vitest';
import { metricsAuthorized, requireMetricsToken } from '../../../src/monitoring/metrics-auth.js';
import * as secureCompare from '../../../src/secure-compare.js';

vi.mock('../../../src/secure-compare.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/secure-compare.js')>();
  return { ...actual, secureEqual: vi.fn(actual.secureEqual) };
});

const TOKEN = 'metrics-token-0123456789';

describe('the /metrics token check', () => {
  it('lets everything through when no token is configured', () => {
    expect(metricsAuthorized(undefined, null)).toBe(true);
    expect(metricsAuthorized('Bearer anything', null)).toBe(true);
  });

  it('accepts exactly "Bearer <token>" and refuses a missing, wrong or same-length wrong one', () => {
    expect(metricsAuthorized(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(metricsAuthorized(undefined, TOKEN)).toBe(false);
    expect(metricsAuthorized('', TOKEN)).toBe(false);
    expect(metricsAuthorized('Bearer wrong', TOKEN)).toBe(false);
    expect(metricsAuthorized(`Bearer ${TOKEN.slice(0, -1)}X`, TOKEN)).toBe(false);
    expect(metricsAuthorized(TOKEN, TOKEN)).toBe(false);
  });

  it('compares through the constant-time secureEqual, never with a plain string comparison', () => {
    vi.mocked(secureCompare.secureEqual).mockClear();
    metricsAuthorized('Bearer wrong', TOKEN);
    expect(secureCompare.secureEqual).toHaveBeenCalledWith('Bearer wrong', `Bearer ${TOKEN}`);
  });

  it('throws the 401 MH_ERR_UNAUTHORIZED the route answers with', () => {
    expect(() => requireMetricsToken('Bearer wrong', TOKEN)).toThrow(
      expect.objectContaining({ code: 'MH_ERR_UNAUTHORIZED' }),
    );
    expect(() => requireMetricsToken(`Bearer ${TOKEN}`, TOKEN)).not.toThrow();
  });
});
