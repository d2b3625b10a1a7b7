import { parseTime } from '../../api/cursor.js';
import type { Reconciliation } from '../../client/index.js';
import { EXIT_CODES, numberValue, runSingle, type Subcommand, stringValue } from '../http.js';
import { print, printJson, progressBar, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook reconcile`: read a time range of a source's events back from its provider's API. */

const HELP = `mailhook reconcile --source <src_id> --since <time> [--until <time>] [options]
mailhook reconcile --source <src_id> --list [--json]

Reads a time range of a source's events back from its provider's event API (Mailgun, Postmark,
SparkPost; the source needs config.api_key, and for Mailgun config.domain), in the background on
the server: events mailhook never received are stored and delivered like webhook events, the others
are counted as duplicates. Waits for the end, showing pages read and counts on stderr (when it is a
terminal); exits 1 when the job fails, with its reason on stderr. One job per source runs at a time.
  --source <src_id>     the source (or as the first argument)
  --since <time>        ISO 8601 or Unix seconds, inclusive (the provider's API keeps a limited past)
  --until <time>        exclusive (default: now)
  --no-wait             print the job and return at once
  --interval <ms>       how often to poll for progress (default 500)
  --list                the source's recent jobs, newest first (any trigger)

Examples:
  mailhook reconcile --source src_01JD… --since 2026-12-05T00:00:00Z
  mailhook reconcile src_01JD… --since 1796428800 --until 1796432400 --json
  mailhook reconcile --source src_01JD… --list
`;

function checkTime(name: string, text: string | undefined): void {
  if (text === undefined) return;
  try {
    parseTime(name, text);
  } catch {
    throw new UsageError(`${name} must be an ISO 8601 date-time or Unix seconds (e.g. 2026-12-05T12:00:00Z)`);
  }
}

function summary(job: Reconciliation): string {
  return `reconciliation ${job.id} ${job.status}: ${job.pages} pages, ${job.found} found, ${job.new} new, ${job.duplicates} duplicates, ${job.skipped} skipped`;
}

/** The progress line: the total is unknown until the API's last page, so pages read stand in for it. */
function progress(job: Reconciliation, label: string): string {
  return progressBar(
    job.pages,
    null,
    `${label}: ${job.found} found, ${job.new} new, ${job.duplicates} duplicates; pages read`,
  );
}

function listTable(jobs: Reconciliation[]): string {
  return table(
    ['ID', 'TRIGGER', 'STATUS', 'SINCE', 'UNTIL', 'PAGES', 'FOUND', 'NEW', 'DUPLICATES', 'SKIPPED', 'ERROR'],
    jobs.map((j) => [
      j.id,
      j.trigger,
      j.status,
      shortTime(j.since),
      shortTime(j.until),
      j.pages,
      j.found,
      j.new,
      j.duplicates,
      j.skipped,
      j.error,
    ]),
    'No reconciliations yet: mailhook reconcile --source <src_id> --since <time>',
  );
}

const reconcileCommand: Subcommand = {
  summary: "read a time range of a source's events back from its provider's API",
  options: {
    source: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    'no-wait': { type: 'boolean' },
    interval: { type: 'string' },
    list: { type: 'boolean' },
  },
  help: HELP,
  async run({ values, positionals, json, client }) {
    const sourceId = stringValue(values, 'source') ?? positionals[0];
    const extra = positionals.slice(stringValue(values, 'source') === undefined ? 1 : 0);
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const since = stringValue(values, 'since');
    const until = stringValue(values, 'until');

    if (values.list === true) {
      if (!sourceId) throw new UsageError('--source is required');
      if (since !== undefined || until !== undefined || values['no-wait'] === true)
        throw new UsageError('--list takes no --since, --until or --no-wait');
      const { data } = await client.sources.listReconciliations(sourceId);
      if (json) printJson({ data });
      else print(listTable(data));
      return EXIT_CODES.ok;
    }

    if (!sourceId || !since) throw new UsageError('--source and --since are required (or --list)');
    checkTime('--since', since);
    checkTime('--until', until);
    const intervalMs = numberValue(values, 'interval') ?? 500;
    if (intervalMs <= 0) throw new UsageError('--interval must be a number of milliseconds above 0');
    let job = await client.sources.reconcile(sourceId, { since, ...(until && { until }) });
    if (values['no-wait'] === true) {
      if (json) printJson(job);
      else print(`${summary(job)}\nfollow it: mailhook reconcile --source ${sourceId} --list`);
      return EXIT_CODES.ok;
    }

    const tty = process.stderr.isTTY === true;
    let interrupted = false;
    const stop = () => {
      interrupted = true;
    };
    process.once('SIGINT', stop);
    try {
      while (job.status === 'running' && !interrupted) {
        if (tty) process.stderr.write(progress(job, 'reading'));
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        job = await client.sources.getReconciliation(sourceId, job.id);
      }
    } finally {
      process.off('SIGINT', stop);
      if (tty) process.stderr.write(`${progress(job, interrupted ? 'stopped watching' : job.status)}\n`);
    }
    if (json) printJson(job);
    else print(summary(job));
    if (interrupted) {
      process.stderr.write(
        'mailhook reconcile: stopped watching; the reconciliation goes on on the server\n',
      );
      return EXIT_CODES.failure;
    }
    if (job.status === 'failed') {
      process.stderr.write(
        `mailhook reconcile: reconciliation ${job.id} failed: ${job.error ?? 'no reason given'}\n`,
      );
      return EXIT_CODES.failure;
    }
    return EXIT_CODES.ok;
  },
};

export function reconcileCommandMain(args: string[]): Promise<number> {
  return runSingle('reconcile', reconcileCommand, args);
}
