import { describe, expect, it } from 'vitest';
import { getAdapter } from '../../../src/providers/registry.js';
import type { Source } from '../../../src/providers/types.js';

const INGEST_URL = 'https://hooks.example.com/ingest/src_setup';

function source(provider: string, config: Record<string, unknown>): Source {
  const at = new Date('2026-11-26T12:00:00Z');
  return { id: 'src_setup', name: provider, provider, config, enabled: true, createdAt: at, updatedAt: at };
}

/** Providers whose source is created before the provider shows the credential, and that credential. */
const LATER_CREDENTIALS = [
  { provider: 'sendgrid', key: 'public_key', value: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE' },
  { provider: 'mailersend', key: 'signing_secret', value: 'ms-secret' },
  { provider: 'mandrill', key: 'webhook_key', value: 'mandrill-key' },
  { provider: 'resend', key: 'secret', value: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=' },
  { provider: 'loops', key: 'secret', value: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=' },
];

describe('the setup text of a source whose credential is set after it is created', () => {
  for (const { provider, key, value } of LATER_CREDENTIALS) {
    it(`${provider}: asks for config.${key} while it is missing, and says it is set once it is`, () => {
      const adapter = getAdapter(provider);
      const missing = adapter.setup(source(provider, {}), INGEST_URL);
      expect(missing).toContain(`set it as this source's config.${key}`);
      expect(missing).toContain(`PATCH /v1/sources/src_setup {"config": {"${key}": "`);
      expect(missing).toContain('until then every post is refused (401)');
      expect(missing).not.toContain('is set');

      const set = adapter.setup(source(provider, { [key]: value }), INGEST_URL);
      expect(set).toContain(`Done: config.${key} is set.`);
      expect(set).not.toContain(`set it as this source's config.${key}`);
      expect(set).not.toContain('until then');
      expect(set).toMatch(
        /\nNext: .+, then watch the events arrive: mailhook events tail --source src_setup$/,
      );
      // The credential itself is never echoed back.
      expect(set).not.toContain(value);
    });
  }
});
