import { parseTime } from '../../api/cursor.js';
import type { MailhookClient, Replay } from '../../client/index.js';
import { EXIT_CODES, listValue, numberValue, runSingle, type Subcommand, stringValue } from '../http.js';
import { print, printJson, progressBar } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook replay`: send a time range of stored events to an endpoint again. */

const HELP = `mailhook replay --endpoint <ep_id> --since <time> [--until <time>] [--types a,b] [options]

Sends the stored events of a time range again to one endpoint (those it subscribes to and its
filter matches), in the background on the server; waits for the end with a progress bar on
stderr (when it is a terminal). Events with a delivery already pending are skipped.
  --endpoint <ep_id>    the endpoint (or as the first argument)
  --since <time>        ISO 8601 or Unix seconds, inclusive
  --until <time>        exclusive (default: now)
  --types <types>       only these types or wildcards, comma-separated
  --no-wait             print the replay id and return at once
  --interval <ms>       how often to poll for progress (default 500)

Examples:
  mailhook replay --endpoint ep_01JD… --since 2026-11-26T00:00:00Z
  mailhook replay ep_01JD… --since 1795132800 --until 1795219200 --types email.bounced --json
`;

function checkTime(name: string, text: string | undefined): void {
  if (text === undefined) return;
  try {
    parseTime(name, text);
  } catch {
    throw new UsageError(`${name} must be an ISO 8601 date-time or Unix seconds (e.g. 2026-11-26T12:00:00Z)`);
  }
}

/** How many events the range holds, for the progress bar's 100% (the replay scans them all). */
async function eventsInRange(client: MailhookClient, replay: Replay): Promise<number | null> {
  try {
    const stats = await client.stats.get({ since: replay.since, until: replay.until });
    let total = 0;
    for (const group of stats.groups) for (const count of Object.values(group.counts)) total += count;
    return total;
  } catch {
    return null; // the bar then shows a plain count
  }
}

function summary(replay: Replay): string {
  return `replay ${replay.id} ${replay.status}: scanned ${replay.scanned}, enqueued ${replay.enqueued}, skipped ${replay.skipped}`;
}

const replayCommand: Subcommand = {
  summary: 'send a time range of events to an endpoint again',
  options: {
    endpoint: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    types: { type: 'string', multiple: true },
    'no-wait': { type: 'boolean' },
    interval: { type: 'string' },
  },
  help: HELP,
  async run({ values, positionals, json, client }) {
    const endpointId = stringValue(values, 'endpoint') ?? positionals[0];
    const since = stringValue(values, 'since');
    const until = stringValue(values, 'until');
    if (!endpointId || !since) throw new UsageError('--endpoint and --since are required');
    checkTime('--since', since);
    checkTime('--until', until);
    const types = listValue(values, 'types');
    const intervalMs = numberValue(values, 'interval') ?? 500;
    let replay = await client.endpoints.replay(endpointId, {
      since,
      ...(until && { until }),
      ...(types.length > 0 && { types }),
    });
    const notKept = replay.not_kept;
    if (notKept && notKept.events > 0)
      process.stderr.write(
        `mailhook replay: ${notKept.events} events before ${notKept.before} are no longer kept (MAILHOOK_RETENTION_EVENTS) and cannot be sent\n`,
      );
    if (values['no-wait'] === true) {
      if (json) printJson(replay);
      else print(`${summary(replay)}\nfollow it: GET /v1/endpoints/${endpointId}/replays/${replay.id}`);
      return EXIT_CODES.ok;
    }

    const tty = process.stderr.isTTY === true;
    const inRange = tty ? await eventsInRange(client, replay) : null;
    const total = inRange === null ? null : Math.max(0, inRange - (notKept?.events ?? 0));
    let interrupted = false;
    const stop = () => {
      interrupted = true;
    };
    process.once('SIGINT', stop);
    try {
      while (replay.status === 'running' && !interrupted) {
        if (tty)
          process.stderr.write(
            progressBar(replay.scanned, total, `scanned ${replay.scanned}, enqueued ${replay.enqueued}`),
          );
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        replay = await client.endpoints.getReplay(endpointId, replay.id);
      }
    } finally {
      process.off('SIGINT', stop);
      const label = interrupted ? 'stopped watching' : 'done';
      if (tty) process.stderr.write(`${progressBar(replay.scanned, total ?? replay.scanned, label)}\n`);
    }
    if (json) printJson(replay);
    else print(summary(replay));
    if (interrupted) {
      process.stderr.write(`mailhook replay: stopped watching; the replay goes on on the server\n`);
      return EXIT_CODES.failure;
    }
    return EXIT_CODES.ok;
  },
};

export function replayCommandMain(args: string[]): Promise<number> {
  return runSingle('replay', replayCommand, args);
}
