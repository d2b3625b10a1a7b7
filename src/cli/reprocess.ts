import { parseArgs } from 'node:util';
import { parseTime } from '../api/cursor.js';
import { loadConfig } from '../config.js';
import { warnUnknownVariables } from '../config-typos.js';
import { createLogger } from '../logger.js';
import { pipelineEffects, softBouncePolicyOf } from '../pipeline/effects.js';
import { PipelineRunner } from '../pipeline/runner.js';
import { openStore } from '../store/index.js';
import type { RequeueSelector } from '../store/store.js';
import { UsageError } from './usage.js';

const HELP = `mailhook reprocess — run the pipeline again over stored raw requests, after a fix.

Options:
  --status <quarantined|processed>  which rows to requeue (default: quarantined)
  --id <in_…>                       one row (repeatable); overrides --status
  --source <src_…>                  only rows of this source
  --since <time>, --until <time>    received-at window (ISO 8601 or Unix seconds)
  --json                            print the summary as JSON

Events already stored are never duplicated: a reprocessed row's events are deduplicated as usual.
Examples:
  mailhook reprocess
  mailhook reprocess --status processed --source src_01JD… --since 2026-11-01T00:00:00Z
`;

export async function reprocessCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      status: { type: 'string' },
      id: { type: 'string', multiple: true },
      source: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const status = values.status ?? (values.id ? undefined : 'quarantined');
  if (status !== undefined && status !== 'quarantined' && status !== 'processed') {
    throw new UsageError('--status must be quarantined or processed');
  }
  const since = parseTime('--since', values.since);
  const until = parseTime('--until', values.until);
  const selector: RequeueSelector = {
    ...(status && { status }),
    ...(values.id && { ids: values.id }),
    ...(values.source && { sourceId: values.source }),
    ...(since && { since }),
    ...(until && { until }),
  };

  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, 2);
  warnUnknownVariables(process.env, logger);
  const store = openStore(config);
  try {
    await store.migrate();
    const requeued = await store.requeueInbox(selector);
    const runner = new PipelineRunner({
      store,
      effects: pipelineEffects(softBouncePolicyOf(config)),
      logger,
    });
    const totals = await runner.runUntilIdle();
    const summary = { requeued, ...totals };
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `requeued ${requeued} row(s); processed ${totals.processed}, quarantined ${totals.quarantined}, ` +
          `events inserted ${totals.inserted}, duplicates skipped ${totals.duplicates}\n`,
      );
    }
    return totals.quarantined > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}
