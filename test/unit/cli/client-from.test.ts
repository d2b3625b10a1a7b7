import { describe, expect, it } from 'vitest';
import { clientFrom } from '../../../src/cli/http.js';
import { UsageError } from '../../../src/cli/usage.js';

describe('the client of a CLI command', () => {
  it('is refused before any request when no API key is given, naming both ways to give one', () => {
    for (const values of [{}, { key: '' }]) {
      expect(() => clientFrom(values, {})).toThrow(UsageError);
      expect(() => clientFrom(values, { MAILHOOK_API_KEY: '' })).toThrow(
        'no API key: set MAILHOOK_API_KEY or pass --key',
      );
    }
  });

  it('takes --key over MAILHOOK_API_KEY, and --url over MAILHOOK_URL', () => {
    expect(clientFrom({ key: 'mh_flag' }, {}).url).toBe('http://127.0.0.1:8787');
    expect(
      clientFrom({ url: 'http://127.0.0.1:9' }, { MAILHOOK_API_KEY: 'mh_env', MAILHOOK_URL: 'http://x' }).url,
    ).toBe('http://127.0.0.1:9');
  });
});
