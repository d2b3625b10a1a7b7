import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { type ListeningApp, listeningStores } from '../helpers/api-stores.js';
import { AUTH } from '../helpers/app.js';

/**
 * `GET /v1/events?after=`: stored order for pollers. A poller that passes `next_after` back must see
 * every stored event once, including events a provider reports late with an earlier timestamp.
 */

interface FeedPage {
  data: CanonicalEvent[];
  next_after: string;
  has_more: boolean;
}

for (const [storeName, makeApp] of await listeningStores()) {
  describe(`GET /v1/events?after= (${storeName})`, () => {
    let app: ListeningApp;

    beforeEach(async () => {
      app = await makeApp();
    });
    afterEach(async () => app.close());

    const get = (url: string) => app.server.inject({ method: 'GET', url, headers: AUTH });

    const page = async (query: string): Promise<FeedPage> => {
      const res = await get(`/v1/events?${query}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as FeedPage;
    };

    /** Publishes one event stamped `minutesAgo` minutes ago. */
    const publish = async (type: string, recipient: string, minutesAgo = 0): Promise<CanonicalEvent> => {
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: {
          type,
          timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
          data: { recipient },
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as CanonicalEvent;
    };

    /**
     * Polls from `after` until `want` events arrived, as a poller would; on PostgreSQL an event
     * joins stored order once every transaction begun before it has ended.
     */
    const pollUntil = async (after: string, want: number, query = '', limit = 3) => {
      const seen: CanonicalEvent[] = [];
      const deadline = Date.now() + 20_000;
      let position = after;
      for (;;) {
        const p = await page(`after=${position}&limit=${limit}${query}`);
        seen.push(...p.data);
        position = p.next_after;
        if (!p.has_more && seen.length >= want) return { seen, next: position };
        if (Date.now() > deadline) throw new Error(`only ${seen.length} of ${want} events`);
        if (!p.has_more) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    it('pages every event once in stored order while events keep arriving, back-dated ones too', async () => {
      const stored: CanonicalEvent[] = [];
      for (let i = 0; i < 4; i++) stored.push(await publish('email.delivered', `first-${i}@example.com`));
      const seen: CanonicalEvent[] = [];
      let after = '0';
      // Each round reads a page of 3 and then stores an event stamped earlier than all before it.
      for (let round = 0; round < 8; round++) {
        const p = await page(`after=${after}&limit=3`);
        expect(p.data.length).toBeLessThanOrEqual(3);
        seen.push(...p.data);
        after = p.next_after;
        stored.push(await publish('email.delivered', `late-${round}@example.com`, 60 * (round + 1)));
      }
      const rest = await pollUntil(after, stored.length - seen.length);
      seen.push(...rest.seen);
      expect(seen.map((e) => e.id)).toEqual(stored.map((e) => e.id));
      // Caught up: nothing more, and the same place to continue from.
      const caughtUp = await page(`after=${rest.next}`);
      expect(caughtUp).toEqual({ data: [], next_after: expect.any(String), has_more: false });
      expect((await pollUntil(caughtUp.next_after, 0)).seen).toEqual([]);
    });

    it('applies the filters, and moves past the events they leave out', async () => {
      const bounced = await publish('email.bounced', 'x@example.com', 120);
      const delivered = await publish('email.delivered', 'x@example.com');
      const bouncedLater = await publish('email.bounced', 'y@example.com', 60 * 24);
      const first = await pollUntil('0', 2, '&type=email.bounced');
      expect(first.seen.map((e) => e.id)).toEqual([bounced.id, bouncedLater.id]);
      await publish('email.delivered', 'z@example.com');
      const next = await publish('email.bounced', 'x@example.com', 5);
      const byRecipient = await pollUntil('0', 3, '&recipient=X@Example.com');
      expect(byRecipient.seen.map((e) => e.id)).toEqual([bounced.id, delivered.id, next.id]);
      expect((await pollUntil(first.next, 1, '&type=email.bounced')).seen.map((e) => e.id)).toEqual([
        next.id,
      ]);
    });

    it('refuses after with since, until or cursor, a malformed position and one it never gave out', async () => {
      await publish('email.delivered', 'a@example.com');
      for (const extra of ['since=2026-01-01T00:00:00Z', 'until=2026-01-01T00:00:00Z', 'cursor=abc']) {
        const res = await get(`/v1/events?after=0&${extra}`);
        expect(res.statusCode, extra).toBe(400);
        expect((res.json() as { code: string }).code).toBe('MH_ERR_VALIDATION');
      }
      for (const after of ['', 'evt_01', '-1', '1.2.3', '99999999999999999999', '99999999999999.1']) {
        const res = await get(`/v1/events?after=${encodeURIComponent(after)}`);
        expect(res.statusCode, after).toBe(400);
        expect((res.json() as { code: string }).code, after).toBe('MH_ERR_INVALID_CURSOR');
      }
    });

    it('is documented in the OpenAPI description', async () => {
      const doc = (await app.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
      };
      expect(doc.paths['/v1/events']?.get?.parameters?.map((p) => p.name)).toContain('after');
      expect(doc.paths['/v1/events/stream']?.get?.parameters).toContainEqual(
        expect.objectContaining({ name: 'last-event-id', in: 'header' }),
      );
    });
  });
}
