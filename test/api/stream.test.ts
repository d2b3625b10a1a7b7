import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idFloorAt, idTime, StreamCursor } from '../../src/api/stream.js';
import type { CanonicalEvent } from '../../src/events.js';
import { encodeTime, ulid } from '../../src/ids.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/** Reads Server-Sent Events frames from a fetch() body, as the dashboard does. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const frames: Array<{ id?: string; event?: string; data?: string }> = [];
  return {
    frames,
    /** Reads until `count` event frames arrived, or fails after `timeoutMs`. */
    async until(count: number, timeoutMs = 8000): Promise<CanonicalEvent[]> {
      const deadline = Date.now() + timeoutMs;
      const events = () => frames.filter((f) => f.event === 'event');
      while (events().length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`only ${events().length} of ${count} events arrived`);
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('read timed out')), left)),
        ]);
        if (chunk.done) throw new Error('stream ended');
        buffer += chunk.value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame: { id?: string; event?: string; data?: string } = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            const [field, ...rest] = line.split(': ');
            if (field === 'id' || field === 'event' || field === 'data') frame[field] = rest.join(': ');
          }
          frames.push(frame);
          buffer = buffer.slice(end + 2);
        }
      }
      return events().map((f) => JSON.parse(f.data ?? 'null') as CanonicalEvent);
    },
    cancel: () => reader.cancel(),
  };
}

describe('GET /v1/events/stream', () => {
  let app: TestApp;
  let url: string;

  beforeEach(async () => {
    app = await testApp();
    url = await app.server.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => app.close());

  const publish = async (type: string, recipient: string) => {
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { type, data: { recipient, message_id: `m-${recipient}` } },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as CanonicalEvent;
  };

  const open = async (query = '', headers: Record<string, string> = {}) => {
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/events/stream${query}`, {
      headers: { ...AUTH, ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    return { reader: sseReader(res.body as ReadableStream<Uint8Array>), controller };
  };

  it('refuses a request without an API key, like every /v1 route', async () => {
    const res = await fetch(`${url}/v1/events/stream`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('MH_ERR_UNAUTHORIZED');
  });

  it('sends events that arrive after the client connected, and only those matching its filter', async () => {
    const before = await publish('email.delivered', 'old@example.com');
    const { reader, controller } = await open('?type=email.bounced');
    await publish('email.delivered', 'other@example.com');
    const bounced = await publish('email.bounced', 'new@example.com');
    const events = await reader.until(1);
    expect(events.map((e) => e.id)).toEqual([bounced.id]);
    expect(reader.frames.find((f) => f.event === 'event')?.id).toBe(bounced.id);
    expect(events.some((e) => e.id === before.id)).toBe(false);
    controller.abort();
  });

  it('resumes after Last-Event-ID with every event created after that one, in creation order', async () => {
    const first = await publish('email.delivered', 'a@example.com');
    const second = await publish('email.opened', 'a@example.com');
    const third = await publish('email.clicked', 'a@example.com');
    const { reader, controller } = await open('', { 'last-event-id': first.id });
    const events = await reader.until(2);
    expect(events.map((e) => e.id)).toEqual([second.id, third.id]);
    controller.abort();
  });

  it('treats a Last-Event-ID from the future as no Last-Event-ID, so new events still arrive', async () => {
    // Built by hand: ulid() never goes back in time, so a future one would shift every later id.
    const future = `evt_${encodeTime(Date.now() + 3_600_000)}${'0'.repeat(16)}`;
    for (const lastId of [future, 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ']) {
      const { reader, controller } = await open('', { 'last-event-id': lastId });
      const fresh = await publish('email.delivered', `after-${lastId.slice(-4)}@example.com`);
      expect((await reader.until(1)).map((e) => e.id)).toEqual([fresh.id]);
      controller.abort();
    }
  });

  it('lets the server close while a client is still connected', async () => {
    const { reader } = await open();
    const started = Date.now();
    await app.server.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(reader.until(1, 2000)).rejects.toThrow(/stream ended|terminated|aborted/);
  });
});

describe('StreamCursor', () => {
  const event = (id: string): CanonicalEvent => ({
    id,
    type: 'email.delivered',
    timestamp: new Date(idTime(id)).toISOString(),
    data: {} as CanonicalEvent['data'],
  });

  it('decodes the time of an id and builds a floor that sorts before ids of that millisecond', () => {
    const now = Date.now();
    const id = `evt_${ulid(now)}`;
    expect(idTime(id)).toBe(now);
    expect(idFloorAt(now) < id).toBe(true);
    expect(idFloorAt(now + 1) > id).toBe(true);
  });

  it('sends each event once, oldest id first, and skips what was there at connection time', () => {
    const t = Date.now();
    const cursor = new StreamCursor(idFloorAt(t - 10_000));
    const existing = event(`evt_${ulid(t - 5000)}`);
    cursor.prime([existing]);
    const a = event(`evt_${ulid(t + 1)}`);
    const b = event(`evt_${ulid(t + 2)}`);
    expect(cursor.take([b, existing, a]).map((e) => e.id)).toEqual([a.id, b.id]);
    expect(cursor.take([b, a])).toEqual([]);
  });

  it('still sends an event committed late with an id slightly older than one already sent', () => {
    const t = Date.now();
    const cursor = new StreamCursor(idFloorAt(t - 10_000));
    const late = event(`evt_${ulid(t + 100)}`);
    const early = event(`evt_${ulid(t + 200)}`);
    expect(cursor.take([early]).map((e) => e.id)).toEqual([early.id]);
    expect(cursor.take([early, late]).map((e) => e.id)).toEqual([late.id]);
  });
});
