import { createHmac, sign } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { mandrillSignature } from '../../../src/providers/mandrill.js';
import { findAdapter, providerIds } from '../../../src/providers/registry.js';
import type { ProviderAdapter, RawRequest, Source } from '../../../src/providers/types.js';
import { hostileBody, hostileHeaders, hostileQuery, providerConfigs } from '../../helpers/hostile.js';
import { runSeed, seededRandom } from '../../helpers/random.js';
import { verifyContext } from '../../helpers/verify-context.js';

/**
 * Hostile input, as property tests over every adapter in the registry: random bytes, truncated and
 * byte-flipped fixtures, deep nesting, huge strings, wrong JSON types, and garbage in every header
 * an adapter reads. `verify` must never throw and never accept; `parse` may only throw
 * MalformedPayloadError. Signed requests whose body is then changed by one byte must be refused.
 * The seed is printed; MAILHOOK_TEST_SEED=<seed> replays a run.
 */

const SEED = runSeed();
const CASES_PER_ADAPTER = 400;

const { configs: CONFIGS, sendgrid, postalKeys, standardSecret: STANDARD_SECRET } = providerConfigs();

function source(provider: string, adapter: ProviderAdapter): Source {
  const now = new Date();
  return {
    id: 'src_fuzz',
    name: 'fuzz',
    provider,
    config: adapter.validateConfig(CONFIGS[provider]),
    enabled: true,
    createdAt: now,
    updatedAt: now,
  };
}

function request(body: Buffer, headers: Record<string, string>, query = '', method = 'POST'): RawRequest {
  return { method, path: '/ingest/src_fuzz', query, headers, body, receivedAt: new Date() };
}

describe('hostile input to every provider adapter', () => {
  it('has a fuzzing configuration for every adapter in the registry', () => {
    expect(providerIds().filter((id) => !(id in CONFIGS))).toEqual([]);
  });

  for (const provider of providerIds()) {
    it(`${provider}: verify never throws and never accepts, parse throws nothing but MalformedPayloadError`, async () => {
      const adapter = findAdapter(provider) as ProviderAdapter;
      const src = source(provider, adapter);
      const random = seededRandom(SEED ^ provider.length ^ provider.charCodeAt(0));
      const problems: string[] = [];
      const parsed = { ok: 0, malformed: 0 };
      for (let i = 0; i < CASES_PER_ADAPTER; i++) {
        const { label, body } = hostileBody(random);
        const req = request(
          body,
          hostileHeaders(random),
          hostileQuery(random),
          random() < 0.9 ? 'POST' : 'GET',
        );
        const what = `case ${i} (${label}, ${body.length} bytes, headers ${Object.keys(req.headers).join(',')})`;
        try {
          const result = await adapter.verify(req, src, verifyContext());
          if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
            problems.push(`${what}: verify returned ${JSON.stringify(result)}`);
          } else if (result.ok) {
            problems.push(`${what}: verify ACCEPTED an unsigned request`);
          }
        } catch (err) {
          problems.push(`${what}: verify threw ${String(err).slice(0, 200)}`);
        }
        try {
          const result = adapter.parse(req);
          if (!Array.isArray(result.events)) problems.push(`${what}: parse returned no events array`);
          parsed.ok++;
        } catch (err) {
          if (err instanceof MalformedPayloadError) parsed.malformed++;
          else
            problems.push(
              `${what}: parse threw ${(err as Error)?.constructor?.name}: ${String(err).slice(0, 200)}`,
            );
        }
      }
      if (problems.length > 0 || provider === 'sendgrid') {
        console.log(
          `fuzz ${provider} (seed ${SEED}): ${CASES_PER_ADAPTER} hostile requests, parse returned ${parsed.ok}, ` +
            `refused ${parsed.malformed} as malformed, ${problems.length} problems`,
        );
      }
      expect(problems.slice(0, 10), `seed ${SEED}`).toEqual([]);
    }, 60_000);
  }
});

// ---------------------------------------------------------------------------------------------
// Correctly signed requests, then one byte of the body changed: the signature covers the body.

interface Signed {
  provider: string;
  make(body: string): RawRequest;
  body: string;
}

const JSON_BODY = JSON.stringify([
  { email: 'a@example.com', event: 'delivered', sg_event_id: 'x1', timestamp: 1 },
]);

function standardSigned(provider: string, prefix: 'webhook' | 'svix'): Signed {
  return {
    provider,
    body: JSON.stringify({
      type: 'email.delivered',
      created_at: new Date().toISOString(),
      data: { email_id: 'e1' },
    }),
    make(body) {
      const id = 'msg_fuzz';
      const at = new Date();
      return request(Buffer.from(body), {
        'content-type': 'application/json',
        [`${prefix}-id`]: id,
        [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
        [`${prefix}-signature`]: new Webhook(STANDARD_SECRET).sign(id, at, body),
      });
    },
  };
}

const SIGNED: Signed[] = [
  {
    provider: 'sendgrid',
    body: JSON_BODY,
    make: (body) => request(Buffer.from(body), sendgrid.headers(body)),
  },
  standardSigned('standard', 'webhook'),
  standardSigned('resend', 'svix'),
  standardSigned('loops', 'webhook'),
  {
    provider: 'mailersend',
    body: JSON.stringify({ type: 'activity.sent', created_at: new Date().toISOString(), data: { id: 'a' } }),
    make: (body) =>
      request(Buffer.from(body), {
        'content-type': 'application/json',
        signature: createHmac('sha256', CONFIGS.mailersend?.signing_secret as string)
          .update(body)
          .digest('hex'),
      }),
  },
  {
    provider: 'postal',
    body: JSON.stringify({
      event: 'MessageSent',
      timestamp: Date.now() / 1000,
      payload: { message: { id: 1 } },
    }),
    make: (body) =>
      request(Buffer.from(body), {
        'content-type': 'application/json',
        'x-postal-signature-256': sign('sha256', Buffer.from(body), postalKeys.privateKey).toString('base64'),
      }),
  },
  {
    provider: 'mandrill',
    body: new URLSearchParams({
      mandrill_events: JSON.stringify([{ event: 'send', ts: 1, _id: 'm1' }]),
    }).toString(),
    make(body) {
      const fields = [...new URLSearchParams(body)] as Array<[string, string]>;
      const key = CONFIGS.mandrill?.webhook_key as string;
      return request(Buffer.from(body), {
        'content-type': 'application/x-www-form-urlencoded',
        'x-mandrill-signature': mandrillSignature(key, verifyContext().ingestUrl, fields),
      });
    },
  },
];

describe('signed requests with one byte of the body changed', () => {
  for (const signed of SIGNED) {
    it(`${signed.provider}: accepts the signed request and refuses every one-byte change of its body`, async () => {
      const adapter = findAdapter(signed.provider) as ProviderAdapter;
      const src = source(signed.provider, adapter);
      const valid = await adapter.verify(signed.make(signed.body), src, verifyContext());
      expect(valid, 'the unmodified request verifies').toEqual({ ok: true });
      const random = seededRandom(SEED + 7);
      const accepted: string[] = [];
      for (let i = 0; i < 200; i++) {
        const bytes = Buffer.from(signed.body);
        const at = Math.floor(random() * bytes.length);
        // XOR 1 always changes the byte and, in a form body, the decoded value (never %2b ↔ %2B).
        bytes[at] = (bytes[at] as number) ^ 1;
        const req = signed.make(signed.body);
        req.body = bytes;
        const result = await adapter.verify(req, src, verifyContext());
        if (result.ok)
          accepted.push(`byte ${at}: ${bytes.toString('utf8').slice(Math.max(0, at - 10), at + 10)}`);
      }
      expect(accepted, `seed ${SEED}`).toEqual([]);
    });
  }
});
