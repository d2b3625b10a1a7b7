import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { encodeTime } from '../../src/ids.js';
import { type ListeningApp, listeningStores } from '../helpers/api-stores.js';
import { AUTH } from '../helpers/app.js';
import { sseReader } from '../helpers/sse-reader.js';

const stores = await listeningStores();

for (const [storeName, makeApp] of stores) {
  describe(`GET /v1/events/stream (${storeName})`, () => {
    let app: ListeningApp;

    beforeEach(async () => {
      app = await makeApp();
    });
    afterEach(async () => app.close());

    /** Publishes events (one batch, stored in this order); `minutesAgo` back-dates each. */
    const publish = async (...specs: Array<{ type?: string; recipient: string; minutesAgo?: number }>) => {
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: {
          events: specs.map((spec) => ({
            type: spec.type ?? 'email.delivered',
            ...(spec.minutesAgo !== undefined && {
              timestamp: new Date(Date.now() - spec.minutesAgo * 60_000).toISOString(),
            }),
            data: { recipient: spec.recipient, message_id: `m-${spec.recipient}` },
          })),
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { data: Array<{ event: CanonicalEvent }> }).data.map((item) => item.event);
    };
    const publishOne = async (type: string, recipient: string) =>
      (await publish({ type, recipient }))[0] as CanonicalEvent;

    /** Waits until `event` has its place in stored order (at once on SQLite). */
    const stored = async (event: CanonicalEvent) => {
      await vi.waitFor(
        async () => {
          const res = await app.server.inject({
            method: 'GET',
            url: '/v1/events?after=0&limit=500',
            headers: AUTH,
          });
          expect((res.json() as { data: CanonicalEvent[] }).data.map((e) => e.id)).toContain(event.id);
        },
        { timeout: 20_000, interval: 20 },
      );
    };

    const open = async (query = '', headers: Record<string, string> = {}) => {
      const controller = new AbortController();
      const res = await fetch(`${app.url}/v1/events/stream${query}`, {
        headers: { ...AUTH, ...headers },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return { reader: sseReader(res.body as ReadableStream<Uint8Array>), controller };
    };

    it('refuses a request without an API key, like every /v1 route', async () => {
      const res = await fetch(`${app.url}/v1/events/stream`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('MH_ERR_UNAUTHORIZED');
    });

    it('sends events that arrive after the client connected, and only those matching its filter', async () => {
      const before = await publishOne('email.delivered', 'old@example.com');
      const { reader, controller } = await open('?type=email.bounced');
      await publishOne('email.delivered', 'other@example.com');
      const bounced = await publishOne('email.bounced', 'new@example.com');
      const events = await reader.until(1);
      expect(events.map((e) => e.id)).toEqual([bounced.id]);
      expect(events.some((e) => e.id === before.id)).toBe(false);
      expect(reader.frames.find((f) => f.event === 'event')?.id).toMatch(/^\d+(\.\d+)?$/);
      controller.abort();
    });

    it('sends every back-dated event once, in the order stored, however many newer events exist', async () => {
      // More newer events than the stream's page: a reader ordered by timestamp never reaches the late ones.
      await publish(...Array.from({ length: 150 }, (_, i) => ({ recipient: `now-${i}@example.com` })));
      const { reader, controller } = await open();
      const stored: CanonicalEvent[] = [];
      // As `mailhook simulate` sends them: reported now, stamped minutes to a year ago.
      for (const minutesAgo of [5, 60 * 24 * 365, 0, 90, 30, 60 * 24, 1]) {
        stored.push(...(await publish({ recipient: `late-${minutesAgo}@example.com`, minutesAgo })));
      }
      const events = await reader.until(stored.length);
      expect(events.map((e) => e.id)).toEqual(stored.map((e) => e.id));
      // Nothing more: each was sent once, and nothing that existed at connection time.
      const extra = await publishOne('email.opened', 'marker@example.com');
      expect((await reader.until(stored.length + 1)).map((e) => e.id)).toEqual([
        ...stored.map((e) => e.id),
        extra.id,
      ]);
      controller.abort();
    });

    it('resumes after Last-Event-ID with exactly the events stored meanwhile, back-dated ones too', async () => {
      const first = await open();
      const a = await publishOne('email.delivered', 'a@example.com');
      await first.reader.until(1);
      const resumeFrom = first.reader.lastEventId() as string;
      first.controller.abort();
      const meanwhile = await publish(
        { recipient: 'b@example.com', minutesAgo: 600 },
        { recipient: 'c@example.com' },
        { recipient: 'd@example.com', minutesAgo: 60 * 24 * 30 },
      );
      const { reader, controller } = await open('', { 'last-event-id': resumeFrom });
      const events = await reader.until(3);
      expect(events.map((e) => e.id)).toEqual(meanwhile.map((e) => e.id));
      expect(events.some((e) => e.id === a.id)).toBe(false);
      controller.abort();
    });

    it('gives a client its starting point before any event, so a reconnect misses nothing', async () => {
      const first = await open();
      // The first frame already carries an id; nothing was sent yet.
      await expect(first.reader.until(1, 300)).rejects.toThrow(/only 0 of 1|timed out/);
      const resumeFrom = first.reader.lastEventId() as string;
      expect(resumeFrom).toMatch(/^\d+(\.\d+)?$/);
      first.controller.abort();
      const meanwhile = await publish({ recipient: 'gap@example.com', minutesAgo: 120 });
      const { reader, controller } = await open('', { 'last-event-id': resumeFrom });
      expect((await reader.until(1)).map((e) => e.id)).toEqual(meanwhile.map((e) => e.id));
      controller.abort();
    });

    it('resumes after an event id sent as Last-Event-ID (what clients sent before), in stored order', async () => {
      const [first, second, third] = await publish(
        { type: 'email.delivered', recipient: 'a@example.com' },
        { type: 'email.opened', recipient: 'a@example.com', minutesAgo: 300 },
        { type: 'email.clicked', recipient: 'a@example.com' },
      );
      // A client holds only ids the stream sent it, so events already in stored order (on
      // PostgreSQL, once every transaction begun before them has ended).
      await stored(third as CanonicalEvent);
      const { reader, controller } = await open('', { 'last-event-id': first?.id as string });
      const events = await reader.until(2);
      expect(events.map((e) => e.id)).toEqual([second?.id, third?.id]);
      controller.abort();
    });

    it('treats a Last-Event-ID it never gave out as no Last-Event-ID, so new events still arrive', async () => {
      // Built by hand: ulid() never goes back in time, so a future one would shift every later id.
      const futureEvent = `evt_${encodeTime(Date.now() + 3_600_000)}${'0'.repeat(16)}`;
      for (const lastId of [
        futureEvent,
        'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ',
        '999999999999',
        '99999999999999.5',
        'garbage',
      ]) {
        const { reader, controller } = await open('', { 'last-event-id': lastId });
        const fresh = await publishOne('email.delivered', `after-${lastId.slice(-4)}@example.com`);
        expect((await reader.until(1)).map((e) => e.id)).toEqual([fresh.id]);
        controller.abort();
      }
    });

    it('lets the server close while a client is still connected', async () => {
      const { reader } = await open();
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(5000);
      await expect(reader.until(1, 2000)).rejects.toThrow(/stream ended|terminated|aborted/);
      app = { ...app, close: async () => {} };
    });
  });
}
