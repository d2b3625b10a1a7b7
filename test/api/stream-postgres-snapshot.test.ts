import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/api/index.js';
import { type App, build } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { API_KEY, AUTH } from '../helpers/app.js';
import {
  dropSchema,
  postgresAvailable,
  postgresStore,
  TEST_DATABASE_URL,
  testSchema,
} from '../helpers/postgres.js';
import { sseReader } from '../helpers/sse-reader.js';

/**
 * A stream opened without Last-Event-ID on PostgreSQL, while transactions run elsewhere on the
 * server. Transaction ids are the whole server's, so any of them (another application, a report)
 * holds the stored-order horizon back; events committed before the client connected but above that
 * horizon are old all the same. The transactions are held open by hand on a raw connection.
 */

if (await postgresAvailable()) {
  describe('GET /v1/events/stream (PostgreSQL) with transactions running on the server', () => {
    let schema: string;
    let dir: string;
    let store: PostgresStore;
    let app: App;
    let url: string;
    let raw: postgres.Sql;
    const controllers: AbortController[] = [];

    beforeEach(async () => {
      schema = testSchema();
      dir = mkdtempSync(join(tmpdir(), 'mailhook-test-'));
      store = postgresStore(schema);
      await store.migrate();
      await ensureAdminKey(store, API_KEY);
      const config = loadConfig({ MAILHOOK_DATA_DIR: dir, MAILHOOK_API_KEY: API_KEY });
      app = await build({ config, store, logger: pino({ level: 'silent' }) });
      url = await app.server.listen({ host: '127.0.0.1', port: 0 });
      raw = postgres(TEST_DATABASE_URL, { max: 4, onnotice: () => {}, connection: { search_path: schema } });
    });

    afterEach(async () => {
      for (const controller of controllers.splice(0)) controller.abort();
      await raw.end({ timeout: 5 });
      await app.server.close();
      await store.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    });

    /** Publishes events through the API, one batch stored in this order. */
    const publish = async (...recipients: string[]): Promise<CanonicalEvent[]> => {
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: {
          events: recipients.map((recipient) => ({
            type: 'email.delivered',
            data: { recipient, message_id: `m-${recipient}` },
          })),
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { data: Array<{ event: CanonicalEvent }> }).data.map((item) => item.event);
    };

    /** Inserts an event row as the event writers do (neither `tx` nor `seq` named). */
    const insertEvent = async (sql: postgres.ReservedSql, recipient: string): Promise<string> => {
      const id = newId('event');
      const now = Date.now();
      const body = JSON.stringify({
        id,
        type: 'email.delivered',
        timestamp: new Date(now).toISOString(),
        data: { recipient },
      });
      await sql`
        INSERT INTO events (id, source_id, dedup_key, type, occurred_at, body)
        VALUES (${id}, 'src_snapshot_test', ${id}, 'email.delivered', ${now}, ${body})`;
      return id;
    };

    /** A transaction held open on its own connection, with its id assigned. */
    const holdTransaction = async () => {
      const conn = await raw.reserve();
      await conn`BEGIN`;
      await conn`SELECT pg_current_xact_id()`;
      return conn;
    };

    const open = async (headers: Record<string, string> = {}) => {
      const controller = new AbortController();
      controllers.push(controller);
      const res = await fetch(`${url}/v1/events/stream`, {
        headers: { ...AUTH, ...headers },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      return { reader: sseReader(res.body as ReadableStream<Uint8Array>), controller };
    };

    it('sends only the events stored after the client connected, though a transaction elsewhere began before them', async () => {
      const blocker = await holdTransaction();
      try {
        await publish(...Array.from({ length: 40 }, (_, i) => `old-${i}@example.com`));
        const { reader } = await open();
        const fresh: CanonicalEvent[] = [];
        for (const name of ['a', 'b', 'c']) fresh.push(...(await publish(`new-${name}@example.com`)));
        await blocker`COMMIT`;
        expect((await reader.until(3)).map((e) => e.id)).toEqual(fresh.map((e) => e.id));
        // Nothing more: none of the events stored before the client connected comes after them.
        const marker = await publish('marker@example.com');
        expect((await reader.until(4)).map((e) => e.id)).toEqual([...fresh, ...marker].map((e) => e.id));
      } finally {
        blocker.release();
      }
    });

    it('sends an event whose transaction began before the client connected and committed after it', async () => {
      const late = await holdTransaction();
      try {
        const lateId = await insertEvent(late, 'late@example.com');
        // Committed before the client connects, after the late transaction took its id: stored
        // order puts it after the late event, yet it is old.
        await publish('old@example.com');
        const first = await open();
        await late`COMMIT`;
        expect((await first.reader.until(1)).map((e) => e.id)).toEqual([lateId]);
        // The stream moves the client past the old event it skipped, so a reconnect skips it too.
        const lateFrame = first.reader.frames.findIndex((f) => f.event === 'event');
        await first.reader.untilFrame(
          (f) => first.reader.frames.indexOf(f) > lateFrame && f.id !== undefined,
          'id after the late event',
        );
        const resumeFrom = first.reader.lastEventId() as string;
        first.controller.abort();

        const meanwhile = await publish('meanwhile@example.com');
        const second = await open({ 'last-event-id': resumeFrom });
        expect((await second.reader.until(1)).map((e) => e.id)).toEqual(meanwhile.map((e) => e.id));
        const marker = await publish('marker@example.com');
        expect((await second.reader.until(2)).map((e) => e.id)).toEqual(
          [...meanwhile, ...marker].map((e) => e.id),
        );
      } finally {
        late.release();
      }
    });
  });
}
