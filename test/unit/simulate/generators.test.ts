import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { getAdapter, providerIds } from '../../../src/providers/registry.js';
import type { RawRequest, Source, VerifyContext } from '../../../src/providers/types.js';
import { CANONICAL_TYPE, planEvents, type SimEvent, sampleEvents } from '../../../src/simulate/plan.js';
import { SIMULATORS } from '../../../src/simulate/registry.js';
import { Rng } from '../../../src/simulate/rng.js';
import type { AnySimulator, KeyFiles, SimRequest } from '../../../src/simulate/types.js';
import { SIGNING_DIR } from '../../fixtures/ses/signing/sns-signer.js';
import { verifyContext } from '../../helpers/verify-context.js';

const INGEST_URL = 'https://hooks.example.com/ingest/src_sim';
const WHSEC = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const PASSWORD = 'correct-horse-battery-staple';

/** Real files for the SNS directory; in-memory PEMs for generated keys. */
function keyFiles(memory: Record<string, string> = {}): KeyFiles {
  return {
    read: (path) => memory[path] ?? readFileSync(path, 'utf8'),
    list: (dir) => readdirSync(dir),
  };
}

/** The `--key` values a user would give, for each provider. */
function keysFor(sim: AnySimulator, files: Record<string, string>): string[] {
  switch (sim.id) {
    case 'sendgrid':
    case 'postal': {
      const generated = sim.generate?.();
      if (!generated) throw new Error(`${sim.id} cannot generate a key`);
      files[`${sim.id}.pem`] = generated.privateKeyPem;
      return [`${sim.id}.pem`];
    }
    case 'ses':
      return [SIGNING_DIR, 'arn:aws:sns:eu-west-1:123456789012:ses-simulated'];
    case 'mailgun':
      return ['key-3ax6xnjp29jd6fds4gc373sgvjxteol0'];
    case 'mandrill':
      return ['sfBD8yXr2ssN1X6Iv4lR1g'];
    case 'mailersend':
      return ['Bq5mXG0kz5ZzB8w3XyH7Wc2qS1Lr9uTe'];
    case 'resend':
    case 'loops':
    case 'standard':
      return [WHSEC];
    case 'elasticemail':
      return ['token:elastic-token-0123456789', `simulate:${PASSWORD}`];
    case 'brevo':
      return ['header:authorization:Bearer brevo-token-0123456789abcdef'];
    default:
      return [`simulate:${PASSWORD}`, 'header:x-webhook-secret:header-secret-0123456789'];
  }
}

interface Setup {
  credential: unknown;
  source: Source;
  ctx: () => VerifyContext;
}

function setUp(sim: AnySimulator): Setup {
  const memory: Record<string, string> = {};
  const credential = sim.credential(keysFor(sim, memory), keyFiles(memory));
  const adapter = getAdapter(sim.id);
  const now = new Date();
  const source: Source = {
    id: 'src_sim',
    name: sim.id,
    provider: sim.id,
    config: adapter.validateConfig(sim.sourceConfig(credential)),
    enabled: true,
    createdAt: now,
    updatedAt: now,
  };
  // One context per source, as the server keeps one token memory per process.
  const shared = verifyContext({
    ingestUrl: INGEST_URL,
    snsCertificate: async (url) => readFileSync(join(SIGNING_DIR, basename(new URL(url).pathname)), 'utf8'),
  });
  return { credential, source, ctx: () => ({ ...shared, now: new Date() }) };
}

function raw(request: SimRequest): RawRequest {
  return {
    method: request.method,
    path: '/ingest/src_sim',
    query: request.query,
    headers: request.headers,
    body: Buffer.from(request.body),
    receivedAt: new Date(),
  };
}

// One RNG for every request, as in a run: Mailgun tokens must differ from request to request.
const requestRng = new Rng(1);

function build(sim: AnySimulator, events: SimEvent[], credential: unknown): SimRequest {
  return sim.request(events, credential, { rng: requestRng, now: new Date(), url: INGEST_URL });
}

describe('simulate generators', () => {
  it('cover exactly the providers mailhook supports', () => {
    expect(SIMULATORS.map((s) => s.id).sort()).toEqual(providerIds().sort());
  });

  for (const sim of SIMULATORS) {
    describe(sim.id, () => {
      const adapter = getAdapter(sim.id);

      it('makes requests the adapter verifies and parses into the expected canonical events', async () => {
        const { credential, source, ctx } = setUp(sim);
        for (const event of sampleEvents(new Rng(42), new Date(), sim.kinds)) {
          const request = raw(build(sim, [event], credential));
          expect(await adapter.verify(request, source, ctx()), `${sim.id} ${event.kind}`).toMatchObject({
            ok: true,
          });
          const parsed = adapter.parse(request);
          expect(parsed.skipped).toEqual([]);
          expect(parsed.events).toHaveLength(1);
          const [result] = parsed.events;
          expect(result?.type).toBe(CANONICAL_TYPE[event.kind]);
          expect(result?.data.recipient).toBe(event.message.recipient);
          expect(result?.data.message_id).toBeTruthy();
          // Providers send the event's own time; some round it to the second.
          expect(Math.abs((result?.timestamp.getTime() ?? 0) - event.at.getTime())).toBeLessThan(1000);
          if (event.kind === 'bounced') expect(result?.data.bounce?.type).toBe('hard');
          // Loops reports clicks without the link.
          if (event.kind === 'clicked' && sim.id !== 'loops') expect(result?.data.click?.url).toBe(event.url);
        }
      });

      it('refuses requests signed with the wrong credential', async () => {
        const { credential, source, ctx } = setUp(sim);
        const forged = sim.forge(credential, new Rng(7));
        for (const event of sampleEvents(new Rng(43), new Date(), sim.kinds)) {
          const verification = await adapter.verify(raw(build(sim, [event], forged)), source, ctx());
          expect(verification.ok, `${sim.id} ${event.kind}`).toBe(false);
          expect(verification).not.toHaveProperty('retryable', true);
        }
      });

      it('has a duplicate (the same signed request again) accepted and deduplicated', async () => {
        const { credential, source, ctx } = setUp(sim);
        const [event] = sampleEvents(new Rng(44), new Date(), sim.kinds);
        const request = raw(build(sim, [event as SimEvent], credential));
        expect(await adapter.verify(request, source, ctx())).toMatchObject({ ok: true });
        expect(await adapter.verify(request, source, ctx())).toMatchObject({ ok: true });
        const keys = [adapter.parse(request), adapter.parse(request)].map((p) => p.events[0]?.dedupKey);
        expect(keys[0]).toBeDefined();
        expect(keys[0]).toBe(keys[1]);
      });

      it('gives every event of a realistic run its own dedup key', () => {
        const { credential } = setUp(sim);
        const rng = new Rng(9);
        const events = planEvents(rng, { count: 400, now: new Date(), kinds: sim.kinds });
        const keys = new Set<string>();
        for (let i = 0; i < events.length; i += sim.maxBatch) {
          const batch = events.slice(i, i + sim.maxBatch);
          const parsed = adapter.parse(
            raw(sim.request(batch, credential, { rng, now: new Date(), url: INGEST_URL })),
          );
          expect(parsed.events).toHaveLength(batch.length);
          for (const e of parsed.events) keys.add(e.dedupKey);
        }
        expect(keys.size).toBe(400);
      });

      if (sim.maxBatch > 1) {
        it('batches several events in one request, in order', async () => {
          const { credential, source, ctx } = setUp(sim);
          const events = sampleEvents(new Rng(45), new Date(), sim.kinds);
          const request = raw(build(sim, events, credential));
          expect(await adapter.verify(request, source, ctx())).toMatchObject({ ok: true });
          expect(adapter.parse(request).events.map((e) => e.type)).toEqual(
            events.map((e) => CANONICAL_TYPE[e.kind]),
          );
        });
      }
    });
  }
});

describe('simulate generators and the official verifiers', () => {
  const events = sampleEvents(new Rng(5), new Date());

  it('SendGrid requests verify with @sendgrid/eventwebhook', () => {
    const sim = SIMULATORS.find((s) => s.id === 'sendgrid') as AnySimulator;
    const { credential, source } = setUp(sim);
    const request = build(sim, events, credential);
    const sdk = new EventWebhook();
    const key = sdk.convertPublicKeyToECDSA(String(source.config.public_key));
    const signature = request.headers['x-twilio-email-event-webhook-signature'] ?? '';
    const timestamp = request.headers['x-twilio-email-event-webhook-timestamp'] ?? '';
    expect(sdk.verifySignature(key, request.body, signature, timestamp)).toBe(true);
  });

  it('Resend requests verify with svix, Loops and standard ones with standardwebhooks', () => {
    for (const id of ['resend', 'loops', 'standard']) {
      const sim = SIMULATORS.find((s) => s.id === id) as AnySimulator;
      const { credential } = setUp(sim);
      const request = build(sim, events.slice(0, 1), credential);
      const verifier = id === 'resend' ? new SvixWebhook(WHSEC) : new Webhook(WHSEC);
      expect(() => verifier.verify(request.body, request.headers), id).not.toThrow();
    }
  });
});
