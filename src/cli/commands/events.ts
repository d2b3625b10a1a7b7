import { parseTime } from '../../api/cursor.js';
import type { CanonicalEvent, EventQuery, MailhookClient } from '../../client/index.js';
import { MailhookApiError, MailhookConnectionError } from '../../client/index.js';
import { isOwnEventType, routingFields } from '../../events.js';
import { readEventStream } from '../event-stream.js';
import {
  EXIT_CODES,
  numberValue,
  onePositional,
  runResource,
  type Subcommand,
  stringValue,
  type Values,
} from '../http.js';
import { keyValues, print, printJson, printJsonLine, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook events …`: canonical events, listed, shown, or followed live. */

const INTRO = `mailhook events — canonical email events and your own published ones (newest first), one by
one, or followed live.
`;

const FILTER_OPTIONS = {
  type: { type: 'string' },
  recipient: { type: 'string' },
  'message-id': { type: 'string' },
  source: { type: 'string' },
  since: { type: 'string' },
} as const;

const FILTER_HELP = `  --type <type>            e.g. email.bounced
  --recipient <address>
  --message-id <id>        the id your send call returned
  --source <src_id>
  --since <time>           ISO 8601 or Unix seconds (inclusive)`;

function filtersOf(values: Values): EventQuery {
  const since = stringValue(values, 'since');
  // Checked here so that a typo is a usage error, not a server round trip.
  if (since !== undefined) checkTime('--since', since);
  const query: EventQuery = {};
  const set = (key: keyof EventQuery, option: string) => {
    const value = stringValue(values, option);
    if (value !== undefined) (query as Record<string, unknown>)[key] = value;
  };
  set('type', 'type');
  set('recipient', 'recipient');
  set('message_id', 'message-id');
  set('source_id', 'source');
  set('since', 'since');
  return query;
}

function checkTime(name: string, text: string): Date {
  try {
    return parseTime(name, text) as Date;
  } catch {
    throw new UsageError(`${name} must be an ISO 8601 date-time or Unix seconds (e.g. 2026-11-26T12:00:00Z)`);
  }
}

/**
 * The fields a listing shows. An event of your own type has your data, not the canonical email
 * data: whatever its `recipient` or `provider` keys hold (or their absence) shows as text or `-`.
 */
function summaryOf(event: CanonicalEvent) {
  const data: Record<string, unknown> = isPlainObject(event.data) ? event.data : {};
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return {
    recipient: routingFields(data).recipient,
    messageId: text(data.message_id),
    provider: text(data.provider),
    sourceId: text(data.source_id),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function line(event: CanonicalEvent): string {
  const { recipient, provider } = summaryOf(event);
  return `${shortTime(event.timestamp)}  ${event.type.padEnd(18)}  ${(recipient ?? '-').padEnd(30)}  ${event.id}  (${provider ?? 'own type'})`;
}

const list: Subcommand = {
  summary: 'list events with filters, newest first',
  options: {
    ...FILTER_OPTIONS,
    until: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
  help: `mailhook events list [filters] [--until <time>] [--limit <n>] [--cursor <c>] [--json]

${FILTER_HELP}
  --until <time>           exclusive
  --limit <n>              1–500 (default 50)
  --cursor <c>             the next page (printed after a full page; next_cursor in --json)

Examples:
  mailhook events list --type email.bounced --since 2026-11-01T00:00:00Z
  mailhook events list --recipient user@example.com --json | jq '.data[].type'
`,
  async run({ values, json, client }) {
    const until = stringValue(values, 'until');
    if (until !== undefined) checkTime('--until', until);
    const limit = numberValue(values, 'limit');
    const cursor = stringValue(values, 'cursor');
    const page = await client.events.list({
      ...filtersOf(values),
      ...(until && { until }),
      ...(limit !== undefined && { limit }),
      ...(cursor && { cursor }),
    });
    if (json) printJson(page);
    else {
      print(
        table(
          ['TIME', 'TYPE', 'RECIPIENT', 'ID', 'PROVIDER'],
          page.data.map((e) => {
            const { recipient, provider } = summaryOf(e);
            return [shortTime(e.timestamp), e.type, recipient, e.id, provider];
          }),
          'No events match.',
        ),
      );
      if (page.next_cursor) process.stderr.write(`more: --cursor ${page.next_cursor}\n`);
    }
    return EXIT_CODES.ok;
  },
};

const show: Subcommand = {
  summary: 'show one event (the canonical JSON endpoints receive)',
  help: `mailhook events show <evt_id> [--json]

Example:
  mailhook events show evt_01JD…
`,
  async run({ positionals, json, client }) {
    const event = await client.events.get(onePositional(positionals, 'event id'));
    if (json) printJson(event);
    else if (isOwnEventType(event.type)) {
      // Your own type: the data is yours, shown below as it is.
      print(
        keyValues([
          ['id', event.id],
          ['type', event.type],
          ['time', event.timestamp],
        ]),
      );
      print(JSON.stringify(event, null, 2));
    } else {
      const { recipient, messageId, provider, sourceId } = summaryOf(event);
      print(
        keyValues([
          ['id', event.id],
          ['type', event.type],
          ['time', event.timestamp],
          ['recipient', recipient],
          ['message id', messageId],
          ['provider', `${provider ?? '-'} (${sourceId ?? '-'})`],
          ...(event.data.bounce ? [['bounce', event.data.bounce] as [string, unknown]] : []),
          ...(event.data.click ? [['click', event.data.click.url] as [string, unknown]] : []),
        ]),
      );
      print(JSON.stringify(event, null, 2));
    }
    return EXIT_CODES.ok;
  },
};

interface TailOptions {
  client: MailhookClient;
  apiKey: string | undefined;
  filters: EventQuery;
  /** Print what already exists from this time on before following. */
  backlogSince: Date | null;
  count: number | null;
  emit: (event: CanonicalEvent) => void;
  /** Called once the stream is open (and the backlog printed): from then on every new event is printed. */
  onFollowing: () => void;
  signal: AbortSignal;
}

/** Until the server says otherwise (its `retry:` field). */
const RECONNECT_MS = 1000;

/**
 * Follows GET /v1/events/stream, which sends every event once in the order it was stored, so an
 * event the provider reports late (stamped before events already printed) is printed too. After a
 * lost connection it reconnects with Last-Event-ID: nothing stored meanwhile is missed or repeated.
 *
 * With --since, the stream is opened first and the existing events are listed after: what is stored
 * in between comes in both, and is printed once.
 */
async function tail(options: TailOptions): Promise<void> {
  const { client, filters, signal } = options;
  const query = {
    type: filters.type,
    recipient: filters.recipient,
    message_id: filters.message_id,
    source_id: filters.source_id,
  };
  const backlog = new Set<string>();
  let lastEventId: string | undefined;
  let retryMs = RECONNECT_MS;
  let printed = 0;
  let following = false;
  let offline = false;
  /** Prints an event; true when --count is reached. */
  const emitOne = (event: CanonicalEvent): boolean => {
    options.emit(event);
    printed++;
    return options.count !== null && printed >= options.count;
  };
  while (!signal.aborted) {
    let problem = 'the server closed the stream';
    try {
      const frames = readEventStream({ url: client.url, apiKey: options.apiKey, query, lastEventId, signal });
      let opened = false;
      for await (const frame of frames) {
        if (frame.retry !== undefined) retryMs = frame.retry;
        // The first frame carries the starting position: kept at once, so that a reconnect after a
        // failed backlog listing still misses nothing.
        if (frame.id !== undefined) lastEventId = frame.id;
        if (!opened) {
          opened = true;
          if (offline) process.stderr.write('mailhook events tail: connected again\n');
          offline = false;
          if (!following) {
            if (options.backlogSince) {
              const since = options.backlogSince.toISOString();
              const existing: CanonicalEvent[] = [];
              for await (const event of client.events.iterate({ ...filters, since, limit: 500 }))
                existing.push(event);
              // Listed newest first; printed as they happened.
              for (const event of existing.reverse()) {
                backlog.add(event.id);
                if (emitOne(event)) return;
              }
            }
            following = true;
            options.onFollowing();
          }
        }
        if (frame.event !== 'event' || frame.data === undefined) continue;
        const event = JSON.parse(frame.data) as CanonicalEvent;
        if (backlog.delete(event.id)) continue;
        if (emitOne(event)) return;
      }
    } catch (err) {
      if (signal.aborted) return;
      // A server shutting down answers 503 (a proxy in front, 502 or 504): as passing as a refused connection.
      const passing =
        err instanceof MailhookConnectionError || (err instanceof MailhookApiError && err.status >= 500);
      if (!passing) throw err;
      problem = err.message;
    }
    // A restarting server is normal while developing: say so once and keep trying.
    if (!offline) process.stderr.write(`mailhook events tail: ${problem}; retrying\n`);
    offline = true;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, retryMs);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

const tailCommand: Subcommand = {
  summary: 'follow new events live, in the order they are stored',
  options: {
    ...FILTER_OPTIONS,
    interval: { type: 'string' },
    window: { type: 'string' },
    count: { type: 'string' },
  },
  help: `mailhook events tail [filters] [--count <n>] [--json]

Prints each new event as it is stored, until Ctrl-C, read from the server's event stream
(GET /v1/events/stream): every event once, in the order it was stored, including events a provider
reports late with an earlier timestamp. After a lost connection it resumes where it stopped. With
--since, first prints what exists from that time on. --json prints one JSON line per event.
${FILTER_HELP}
  --count <n>              exit after printing n events
  --interval, --window     accepted and ignored (the tail no longer polls)

Examples:
  mailhook events tail
  mailhook events tail --type email.bounced --json | jq .data.recipient
`,
  async run({ values, json, client }) {
    const filters = filtersOf(values);
    const since = filters.since === undefined ? null : checkTime('--since', filters.since);
    delete filters.since;
    const count = numberValue(values, 'count') ?? null;
    if (count !== null && (!Number.isInteger(count) || count < 1))
      throw new UsageError('--count must be ≥ 1');
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await tail({
        client,
        // The key the client was made with (clientFrom): the stream is read outside the client.
        apiKey: stringValue(values, 'key') ?? process.env.MAILHOOK_API_KEY,
        filters,
        backlogSince: since,
        count,
        emit: (event) => (json ? printJsonLine(event) : print(line(event))),
        // On stderr, so that --json output stays pure; scripts and tests can wait for it.
        onFollowing: () =>
          process.stderr.write(`mailhook events tail: following ${client.url} (Ctrl-C to stop)\n`),
        signal: controller.signal,
      });
    } finally {
      controller.abort();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT_CODES.ok;
  },
};

export function eventsCommand(args: string[]): Promise<number> {
  return runResource('events', INTRO, { list, show, tail: tailCommand }, args);
}
