import { parseTime } from '../../api/cursor.js';
import type { CanonicalEvent, EventQuery, MailhookClient } from '../../client/index.js';
import { MailhookConnectionError } from '../../client/index.js';
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

const INTRO = `mailhook events — canonical email events (newest first), one by one, or followed live.
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

function line(event: CanonicalEvent): string {
  return `${shortTime(event.timestamp)}  ${event.type.padEnd(18)}  ${(event.data.recipient ?? '-').padEnd(30)}  ${event.id}  (${event.data.provider})`;
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
          page.data.map((e) => [shortTime(e.timestamp), e.type, e.data.recipient, e.id, e.data.provider]),
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
    else {
      print(
        keyValues([
          ['id', event.id],
          ['type', event.type],
          ['time', event.timestamp],
          ['recipient', event.data.recipient],
          ['message id', event.data.message_id],
          ['provider', `${event.data.provider} (${event.data.source_id})`],
          ...(event.data.bounce ? [['bounce', event.data.bounce] as [string, unknown]] : []),
          ...(event.data.click ? [['click', event.data.click.url] as [string, unknown]] : []),
        ]),
      );
      print(JSON.stringify(event, null, 2));
    }
    return EXIT_CODES.ok;
  },
};

const PAGE = 500;
/** Pages read per poll at most; beyond that a burst is caught up on the next polls. */
const MAX_PAGES = 20;

interface TailOptions {
  client: MailhookClient;
  filters: EventQuery;
  /** Print what already exists from this time on before following. */
  backlogSince: Date | null;
  windowMs: number;
  intervalMs: number;
  count: number | null;
  emit: (event: CanonicalEvent) => void;
  /** Called once the first poll has answered: from then on every new event is printed. */
  onFollowing: () => void;
  signal: AbortSignal;
}

/**
 * Follows events by polling GET /v1/events every interval. Events are ordered by the provider's
 * timestamp, not by arrival, so each poll rereads a sliding window (the newest event seen minus
 * `windowMs`) and prints only ids not seen before. An event whose timestamp is already older than
 * the window when it arrives is not shown.
 */
async function tail(options: TailOptions): Promise<void> {
  const { client, filters, windowMs, signal } = options;
  const seen = new Map<string, number>();
  let windowStart = options.backlogSince?.getTime() ?? Date.now() - windowMs;
  let printing = options.backlogSince !== null;
  let printed = 0;
  let offline = false;
  let following = false;
  while (!signal.aborted) {
    const fresh: CanonicalEvent[] = [];
    try {
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await client.events.list({
          ...filters,
          since: new Date(windowStart).toISOString(),
          limit: PAGE,
          ...(cursor && { cursor }),
        });
        for (const event of page.data) {
          if (seen.has(event.id)) continue;
          seen.set(event.id, Date.parse(event.timestamp));
          fresh.push(event);
        }
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor && pages < MAX_PAGES);
      if (offline) process.stderr.write('mailhook events tail: connected again\n');
      offline = false;
      if (!following) {
        following = true;
        options.onFollowing();
      }
    } catch (err) {
      if (!(err instanceof MailhookConnectionError)) throw err;
      // A restarting server is normal while developing: say so once and keep polling.
      if (!offline) process.stderr.write(`mailhook events tail: ${err.message}; retrying\n`);
      offline = true;
    }
    fresh.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id));
    if (printing) {
      for (const event of fresh) {
        options.emit(event);
        printed++;
        if (options.count !== null && printed >= options.count) return;
      }
    }
    // What the first successful poll found existed before the tail started.
    if (following) printing = true;
    let newest = windowStart;
    for (const time of seen.values()) if (time > newest) newest = time;
    newest = Math.min(newest, Date.now());
    windowStart = Math.max(windowStart, newest - windowMs);
    for (const [id, time] of seen) if (time < windowStart) seen.delete(id);
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, options.intervalMs);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

const tailCommand: Subcommand = {
  summary: 'follow new events live (polls every second)',
  options: {
    ...FILTER_OPTIONS,
    interval: { type: 'string' },
    window: { type: 'string' },
    count: { type: 'string' },
  },
  help: `mailhook events tail [filters] [--interval <ms>] [--window <s>] [--count <n>] [--json]

Prints each new event as it arrives, until Ctrl-C. With --since, first prints what exists from
that time on. --json prints one JSON line per event.
${FILTER_HELP}
  --interval <ms>          how often to poll (default 1000)
  --window <seconds>       how late (by its own timestamp) an event may arrive and still be shown
                           (default 600; providers report events minutes after they happen)
  --count <n>              exit after printing n events

Examples:
  mailhook events tail
  mailhook events tail --type email.bounced --json | jq .data.recipient
`,
  async run({ values, json, client }) {
    const filters = filtersOf(values);
    const since = filters.since === undefined ? null : checkTime('--since', filters.since);
    delete filters.since;
    const intervalMs = numberValue(values, 'interval') ?? 1000;
    const windowSec = numberValue(values, 'window') ?? 600;
    const count = numberValue(values, 'count') ?? null;
    if (intervalMs < 50) throw new UsageError('--interval must be at least 50 ms');
    if (windowSec <= 0) throw new UsageError('--window must be positive');
    if (count !== null && (!Number.isInteger(count) || count < 1))
      throw new UsageError('--count must be ≥ 1');
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await tail({
        client,
        filters,
        backlogSince: since,
        windowMs: windowSec * 1000,
        intervalMs,
        count,
        emit: (event) => (json ? printJsonLine(event) : print(line(event))),
        // On stderr, so that --json output stays pure; scripts and tests can wait for it.
        onFollowing: () =>
          process.stderr.write(`mailhook events tail: following ${client.url} (Ctrl-C to stop)\n`),
        signal: controller.signal,
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT_CODES.ok;
  },
};

export function eventsCommand(args: string[]): Promise<number> {
  return runResource('events', INTRO, { list, show, tail: tailCommand }, args);
}
