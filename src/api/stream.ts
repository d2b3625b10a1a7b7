import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { CanonicalEvent } from '../events.js';
import { decodeTime, encodeTime, isId } from '../ids.js';
import type { ApiContext } from './context.js';
import { eventFilterOf } from './events.js';

/**
 * `GET /v1/events/stream`: new events as Server-Sent Events, for the dashboard's live tail and the
 * CLI. Authentication is the scope's Bearer header like every /v1 route (so a browser reads it with
 * fetch() and a stream reader, never with a key in the URL).
 *
 * The store has no "events after X in arrival order" verb, so the stream polls the newest page (the
 * same query as GET /v1/events) every second and sends the events it has not sent yet. Event ids are
 * ULIDs stamped when the pipeline creates them, so "new" means an id above a floor. The floor trails
 * the newest id sent by COMMIT_SLACK_MS because another process may commit a slightly older id later.
 * An event created now but stamped far in the past by its provider sorts below the newest page and
 * is only seen if fewer than PAGE_SIZE * MAX_PAGES events are newer than it.
 */

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
const PAGE_SIZE = 100;
const MAX_PAGES = 5;
const COMMIT_SLACK_MS = 10_000;
/** Browsers wait this long before reconnecting an EventSource (clients reading with fetch may too). */
const RETRY_MS = 2000;

const streamQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 100 },
    recipient: { type: 'string', minLength: 1, maxLength: 320 },
    message_id: { type: 'string', minLength: 1, maxLength: 1000 },
    source_id: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

/** How far ahead of this server's clock a resumed id may be (another node's clock, say). */
const FUTURE_TOLERANCE_MS = 60_000;

interface StreamQuery {
  type?: string;
  recipient?: string;
  message_id?: string;
  source_id?: string;
}

/** The smallest id string that sorts at or before every event id made at `ms` (ULID time prefix). */
export function idFloorAt(ms: number): string {
  return `evt_${encodeTime(ms)}`;
}

/** Milliseconds encoded in an event id's ULID time prefix. */
export function idTime(id: string): number {
  return decodeTime(id.slice(4));
}

function frame(event: CanonicalEvent): string {
  return `id: ${event.id}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * One client's view of the event table: which events it has been sent, and the floor below which
 * nothing is new. `seen` only holds ids above the floor, so it stays small.
 */
export class StreamCursor {
  private floor: string;
  private readonly seen = new Set<string>();

  constructor(floor: string) {
    this.floor = floor;
  }

  /** Marks events as already known without sending them (what existed when the client connected). */
  prime(events: CanonicalEvent[]): void {
    for (const event of events) if (event.id > this.floor) this.seen.add(event.id);
  }

  /** The events of `events` not sent before, oldest id first; remembers them as sent. */
  take(events: CanonicalEvent[]): CanonicalEvent[] {
    const fresh = events.filter((e) => e.id > this.floor && !this.seen.has(e.id));
    fresh.sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const event of fresh) this.seen.add(event.id);
    const newest = fresh.at(-1);
    if (newest) {
      const floor = idFloorAt(idTime(newest.id) - COMMIT_SLACK_MS);
      if (floor > this.floor) {
        this.floor = floor;
        for (const id of this.seen) if (id <= floor) this.seen.delete(id);
      }
    }
    return fresh;
  }

  /** True when `event` would be sent: above the floor and not sent before. */
  isNew(event: CanonicalEvent): boolean {
    return event.id > this.floor && !this.seen.has(event.id);
  }
}

export async function streamRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const open = new Set<ServerResponse>();
  // Open streams would keep server.close() waiting forever: end them when the server begins closing.
  scope.addHook('preClose', async () => {
    for (const raw of open) raw.end();
    open.clear();
  });

  scope.get<{ Querystring: StreamQuery; Headers: { 'last-event-id'?: string } }>(
    '/events/stream',
    { schema: { querystring: streamQuery } },
    async (request, reply) => {
      const q = request.query;
      const filter = eventFilterOf(q);
      const newestPages = async (cursor: StreamCursor): Promise<CanonicalEvent[]> => {
        const found: CanonicalEvent[] = [];
        let page = await ctx.store.listEvents({ ...filter, limit: PAGE_SIZE });
        for (let n = 1; ; n++) {
          found.push(...page.items);
          // A page that is new from end to end may hide more new events on the next one.
          if (!page.next || n >= MAX_PAGES || !page.items.every((e) => cursor.isNew(e))) break;
          page = await ctx.store.listEvents({ ...filter, limit: PAGE_SIZE, cursor: page.next });
        }
        return found;
      };

      const lastId = request.headers['last-event-id'];
      // An id from the future (a forged or corrupted header) would hold back every event until that
      // moment: such a client starts afresh, as one without Last-Event-ID.
      const resume =
        typeof lastId === 'string' &&
        isId(lastId, 'event') &&
        idTime(lastId) <= ctx.now().getTime() + FUTURE_TOLERANCE_MS;
      const cursor = new StreamCursor(resume ? lastId : idFloorAt(ctx.now().getTime() - COMMIT_SLACK_MS));
      // A fresh client starts from what exists now; a resuming one gets everything after its last id.
      if (!resume) cursor.prime((await ctx.store.listEvents({ ...filter, limit: PAGE_SIZE })).items);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        connection: 'keep-alive',
        // Reverse proxies (nginx) would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      raw.write(`retry: ${RETRY_MS}\n: connected\n\n`);
      open.add(raw);

      let timer: NodeJS.Timeout | undefined;
      let lastWrite = Date.now();
      let closed = false;
      const close = () => {
        closed = true;
        clearTimeout(timer);
        open.delete(raw);
      };
      raw.on('close', close);

      const tick = async () => {
        try {
          // A client that does not read is not sent more: the next poll catches up from the store.
          if (!raw.writableNeedDrain) {
            const fresh = cursor.take(await newestPages(cursor));
            if (closed) return;
            if (fresh.length > 0) {
              raw.write(fresh.map(frame).join(''));
              lastWrite = Date.now();
            } else if (Date.now() - lastWrite >= HEARTBEAT_MS) {
              raw.write(': heartbeat\n\n');
              lastWrite = Date.now();
            }
          }
        } catch (err) {
          request.log.warn({ err }, 'event stream poll failed; retrying');
        }
        if (!closed) timer = setTimeout(tick, POLL_MS);
      };
      timer = setTimeout(tick, POLL_MS);
    },
  );
}
