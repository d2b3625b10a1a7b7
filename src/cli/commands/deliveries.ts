import type { DeliveryStatus } from '../../client/index.js';
import {
  EXIT_CODES,
  numberValue,
  onePositional,
  runResource,
  type Subcommand,
  stringValue,
} from '../http.js';
import { keyValues, print, printJson, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook deliveries …`: events on their way to endpoints, with their attempt logs. */

const INTRO = `mailhook deliveries — one event on its way to one endpoint: attempts, retries, outcome.
`;

const STATUSES: DeliveryStatus[] = ['pending', 'succeeded', 'failed'];

const list: Subcommand = {
  summary: "list an endpoint's deliveries, newest first",
  options: {
    endpoint: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
  help: `mailhook deliveries list --endpoint <ep_id> [--status pending|succeeded|failed] [--limit n] [--cursor c] [--json]

Examples:
  mailhook deliveries list --endpoint ep_01JD… --status failed
  mailhook deliveries list ep_01JD… --json | jq -r '.data[].id'
`,
  async run({ values, positionals, json, client }) {
    const endpointId = stringValue(values, 'endpoint') ?? positionals[0];
    if (!endpointId) throw new UsageError('--endpoint is required');
    const status = stringValue(values, 'status');
    if (status !== undefined && !STATUSES.includes(status as DeliveryStatus)) {
      throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = numberValue(values, 'limit');
    const cursor = stringValue(values, 'cursor');
    const page = await client.deliveries.list(endpointId, {
      ...(status && { status: status as DeliveryStatus }),
      ...(limit !== undefined && { limit }),
      ...(cursor && { cursor }),
    });
    if (json) printJson(page);
    else {
      print(
        table(
          ['ID', 'STATUS', 'ATTEMPTS', 'LAST', 'EVENT', 'NEXT ATTEMPT', 'ERROR'],
          page.data.map((d) => [
            d.id,
            d.status,
            d.attempts,
            d.last_status,
            d.event_id,
            d.status === 'pending' ? shortTime(d.next_attempt_at) : '-',
            d.last_error,
          ]),
          'No deliveries.',
        ),
      );
      if (page.next_cursor) process.stderr.write(`more: --cursor ${page.next_cursor}\n`);
    }
    return EXIT_CODES.ok;
  },
};

const show: Subcommand = {
  summary: 'show a delivery with its attempt log',
  help: `mailhook deliveries show <dlv_id> [--json]

Example:
  mailhook deliveries show dlv_01JD…
`,
  async run({ positionals, json, client }) {
    const delivery = await client.deliveries.get(onePositional(positionals, 'delivery id'));
    if (json) printJson(delivery);
    else {
      print(
        keyValues([
          ['id', delivery.id],
          ['event', delivery.event_id],
          ['endpoint', delivery.endpoint_id],
          ['origin', delivery.origin],
          ['status', delivery.status],
          ['next attempt', delivery.status === 'pending' ? shortTime(delivery.next_attempt_at) : '-'],
          ['last error', delivery.last_error],
        ]),
      );
      print(
        table(
          ['#', 'STARTED', 'MS', 'HTTP', 'OK', 'ERROR'],
          delivery.attempts.map((a) => [
            a.attempt,
            shortTime(a.started_at),
            a.duration_ms,
            a.http_status,
            a.ok ? 'yes' : 'no',
            a.error ?? a.error_class,
          ]),
          'No attempts yet.',
        ),
      );
    }
    return EXIT_CODES.ok;
  },
};

const retry: Subcommand = {
  summary: 'make one more attempt now, whatever the delivery state',
  help: `mailhook deliveries retry <dlv_id> [--json]

Example:
  mailhook deliveries retry dlv_01JD…
`,
  async run({ positionals, json, client }) {
    const delivery = await client.deliveries.retry(onePositional(positionals, 'delivery id'));
    if (json) printJson(delivery);
    else print(`${delivery.id} is due now (attempts so far: ${delivery.attempts})`);
    return EXIT_CODES.ok;
  },
};

export function deliveriesCommand(args: string[]): Promise<number> {
  return runResource('deliveries', INTRO, { list, show, retry }, args);
}
