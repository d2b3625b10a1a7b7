import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { isId } from '../ids.js';
import type { EventPosition, FeedStart, Store, StoredEvent } from '../store/store.js';
import type { ApiContext } from './context.js';
import { formatPosition, parsePosition } from './cursor.js';
import { eventFilterOf } from './events.js';

/**
 * `GET /v1/events/stream`: new events as Server-Sent Events, for the dashboard's live tail and the
 * CLI. Authentication is the scope's Bearer header like every /v1 route (so a browser reads it with
 * fetch() and a stream reader, never with a key in the URL).
 *
 * Events are sent in stored order (Store.eventsAfter), not by their provider timestamp: an event a
 * provider reports late, stamped earlier than events already sent, is still sent, once. Each frame's
 * `id:` is the event's position in that order, so a client reconnecting with `Last-Event-ID` gets
 * exactly the events stored after it. The first frame carries the starting position, so even a client
 * that was sent no event yet resumes without a gap.
 *
 * A client that starts afresh gets the events stored after it connected. On PostgreSQL the starting
 * position can lie before events committed earlier (see FeedStart): the store skips them while the
 * stream hands its `excluding` on, and the stream sends the position past them as an `id:`, so a
 * reconnect from there does not send them either.
 */

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
const PAGE_SIZE = 100;
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

const streamHeaders = {
  type: 'object',
  properties: {
    'last-event-id': {
      type: 'string',
      description:
        'Resume after this frame id (a position in stored order), or after this event id (`evt_…`); anything else starts from now',
    },
  },
} as const;

interface StreamQuery {
  type?: string;
  recipient?: string;
  message_id?: string;
  source_id?: string;
}

function frame(item: StoredEvent): string {
  return `id: ${formatPosition(item.position)}\nevent: event\ndata: ${JSON.stringify(item.event)}\n\n`;
}

/**
 * Where a client starts: after its Last-Event-ID when this store gave it out, else with the events
 * stored from now on. An event id (what clients sent before frame ids were positions) is looked up.
 */
async function startOf(store: Store, lastEventId: string | undefined): Promise<FeedStart> {
  if (lastEventId !== undefined) {
    const resumed = isId(lastEventId, 'event')
      ? await store.eventPosition(lastEventId)
      : await validPosition(store, parsePosition(lastEventId));
    if (resumed) return { position: resumed };
  }
  return store.startEventFeed();
}

/** `position` when the store gave it out; null for one beyond its end (forged, or another database's). */
async function validPosition(store: Store, position: EventPosition | null): Promise<EventPosition | null> {
  if (!position) return null;
  return (await store.eventsAfter(position, 1)) ? position : null;
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
    {
      schema: {
        querystring: streamQuery,
        headers: streamHeaders,
        summary: 'New events as Server-Sent Events, in the order they are stored',
        description:
          'Every event stored after the client connected (or after `Last-Event-ID`) is sent once, in stored order, whatever its provider timestamp. Frames: `id: <position>`, `event: event`, `data: <canonical event>`; comments as heartbeats. Filters as GET /v1/events.',
      },
    },
    async (request, reply) => {
      const filter = eventFilterOf(request.query);
      let { position, excluding } = await startOf(ctx.store, request.headers['last-event-id']);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        connection: 'keep-alive',
        // Reverse proxies (nginx) would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      let sentId = formatPosition(position);
      raw.write(`retry: ${RETRY_MS}\nid: ${sentId}\n: connected\n\n`);
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
        let more = false;
        try {
          // A client that does not read is not sent more: the next poll catches up from the store.
          if (!raw.writableNeedDrain) {
            const skipping = excluding !== undefined;
            const feed = await ctx.store.eventsAfter(position, PAGE_SIZE, filter, { excluding });
            if (closed) return;
            if (!feed) {
              // Only a database replaced under a running server gets here: follow it from now.
              ({ position, excluding } = await ctx.store.startEventFeed());
            } else {
              position = feed.next;
              excluding = feed.excluding;
              more = feed.more;
              let out = feed.items.map(frame).join('');
              const last = feed.items.at(-1);
              if (last) sentId = formatPosition(last.position);
              // A reconnect from the last id sent (which carries no snapshot) would follow the rows
              // skipped since as new ones: move the client past them.
              if (skipping && formatPosition(position) !== sentId) {
                sentId = formatPosition(position);
                out += `id: ${sentId}\n: passed events stored before connecting\n\n`;
              }
              if (out !== '') {
                raw.write(out);
                lastWrite = Date.now();
              } else if (Date.now() - lastWrite >= HEARTBEAT_MS) {
                // The id moves a reconnecting client past events its filter left out.
                sentId = formatPosition(position);
                raw.write(`id: ${sentId}\n: heartbeat\n\n`);
                lastWrite = Date.now();
              }
            }
          }
        } catch (err) {
          request.log.warn({ err }, 'event stream poll failed; retrying');
        }
        if (!closed) timer = setTimeout(tick, more ? 0 : POLL_MS);
      };
      timer = setTimeout(tick, 0);
    },
  );
}
