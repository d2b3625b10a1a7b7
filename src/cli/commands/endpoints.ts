import type { Endpoint, EndpointHealth } from '../../client/index.js';
import {
  EXIT_CODES,
  jsonObjectValue,
  listValue,
  numberValue,
  onePositional,
  pairsValue,
  runResource,
  type Subcommand,
  stringValue,
} from '../http.js';
import { keyValues, print, printJson, shortTime, table } from '../output.js';

/** `mailhook endpoints …`: subscriber URLs that receive events as signed webhooks. */

const INTRO = `mailhook endpoints — subscriber URLs that receive events as signed Standard Webhooks.
`;

/** Header names only, unless the values were fetched from the explicit reveal call. */
function headersLine(endpoint: Endpoint, revealed?: Record<string, string>): unknown {
  if (revealed) return Object.keys(revealed).length > 0 ? revealed : null;
  const names = Object.keys(endpoint.headers);
  return names.length > 0
    ? `${names.join(', ')} (values hidden; "endpoints show --reveal-headers" prints them)`
    : null;
}

function describe(endpoint: Endpoint, health?: EndpointHealth, revealed?: Record<string, string>): string {
  return keyValues([
    ['id', endpoint.id],
    ['url', endpoint.url],
    ['description', endpoint.description || '-'],
    ['status', endpoint.status_reason ? `${endpoint.status} (${endpoint.status_reason})` : endpoint.status],
    ['event types', endpoint.event_types.length > 0 ? endpoint.event_types.join(', ') : 'all'],
    ['filter', endpoint.filter],
    ['headers', headersLine(endpoint, revealed)],
    ['rate limit', endpoint.rate_limit === null ? 'none' : `${endpoint.rate_limit}/s`],
    ['max concurrency', endpoint.max_concurrency],
    ['failures in a row', endpoint.consecutive_failures],
    ['last success', shortTime(endpoint.last_success_at)],
    ['last failure', shortTime(endpoint.last_failure_at)],
    ...(health ? [['health', health.state] as [string, unknown]] : []),
    ['created', shortTime(endpoint.created_at)],
  ]);
}

const add: Subcommand = {
  summary: 'create an endpoint; prints its signing secret (shown once)',
  options: {
    events: { type: 'string', multiple: true },
    filter: { type: 'string' },
    header: { type: 'string', multiple: true },
    secret: { type: 'string' },
    'rate-limit': { type: 'string' },
    'max-concurrency': { type: 'string' },
    description: { type: 'string' },
    paused: { type: 'boolean' },
  },
  help: `mailhook endpoints add <url> [options]

  <url>                     where deliveries are POSTed (private addresses need
                            MAILHOOK_ALLOW_PRIVATE_TARGETS=true on the server); --url is the
                            server's own address, as for every command
  --events <types>          comma-separated types or wildcards (email.bounced,email.*); default all
  --filter <json>           {"metadata": {…}, "tags": […], "recipient_domains": […]}
  --header name=value       a custom header sent with each delivery (repeatable)
  --secret <whsec_…>        your own signing secret (default: generated)
  --rate-limit <n>          deliveries per second
  --max-concurrency <n>     deliveries in flight at once (default 20)
  --description <text>
  --paused                  create it paused (deliveries accumulate until resumed)

Examples:
  mailhook endpoints add https://crm.example.com/hooks/email --events email.bounced,email.complained
  mailhook endpoints add http://127.0.0.1:9000/ --json | jq -r .secret
`,
  async run({ values, positionals, json, client }) {
    const url = onePositional(positionals, 'the endpoint URL (mailhook endpoints add <url>)');
    const events = listValue(values, 'events');
    const filter = jsonObjectValue(values, 'filter');
    const headers = pairsValue(values, 'header');
    const secret = stringValue(values, 'secret');
    const rateLimit = numberValue(values, 'rate-limit');
    const maxConcurrency = numberValue(values, 'max-concurrency');
    const description = stringValue(values, 'description');
    const endpoint = await client.endpoints.create({
      url,
      ...(events.length > 0 && { event_types: events }),
      ...(filter && { filter }),
      ...(headers && { headers }),
      ...(secret && { secret }),
      ...(rateLimit !== undefined && { rate_limit: rateLimit }),
      ...(maxConcurrency !== undefined && { max_concurrency: maxConcurrency }),
      ...(description !== undefined && { description }),
      ...(values.paused === true && { status: 'paused' as const }),
    });
    if (json) printJson(endpoint);
    else
      print(
        `${describe(endpoint)}\nSigning secret (shown once; verify deliveries with it):\n  ${endpoint.secret}`,
      );
    return EXIT_CODES.ok;
  },
};

const list: Subcommand = {
  summary: 'list endpoints',
  help: `mailhook endpoints list [--json]

Example:
  mailhook endpoints list
`,
  async run({ json, client }) {
    const { data } = await client.endpoints.list();
    if (json) printJson({ data });
    else {
      print(
        table(
          ['ID', 'STATUS', 'EVENTS', 'FAILURES', 'URL'],
          data.map((e) => [
            e.id,
            e.status,
            e.event_types.length > 0 ? e.event_types : 'all',
            e.consecutive_failures,
            e.url,
          ]),
          'No endpoints yet: mailhook endpoints add <url>',
        ),
      );
    }
    return EXIT_CODES.ok;
  },
};

const show: Subcommand = {
  summary: 'show one endpoint with its health',
  options: { 'reveal-headers': { type: 'boolean' } },
  help: `mailhook endpoints show <ep_id> [--reveal-headers] [--json]

Custom headers are shown by name only (they often carry the receiver's credentials).
  --reveal-headers          also fetch and print their values

With --json: {"endpoint": {…}, "health": {…}}, and "headers": {name: value} with --reveal-headers.
Examples:
  mailhook endpoints show ep_01JD…
  mailhook endpoints show ep_01JD… --reveal-headers --json | jq .headers
`,
  async run({ values, positionals, json, client }) {
    const id = onePositional(positionals, 'endpoint id');
    const [endpoint, health, revealed] = await Promise.all([
      client.endpoints.get(id),
      client.endpoints.health(id),
      values['reveal-headers'] === true ? client.endpoints.headers(id) : undefined,
    ]);
    if (json) printJson({ endpoint, health, ...(revealed && { headers: revealed.headers }) });
    else print(describe(endpoint, health, revealed?.headers));
    return EXIT_CODES.ok;
  },
};

const rm: Subcommand = {
  summary: 'delete an endpoint (its pending deliveries end as failed)',
  help: `mailhook endpoints rm <ep_id> [--json]

Example:
  mailhook endpoints rm ep_01JD…
`,
  async run({ positionals, json, client }) {
    const id = onePositional(positionals, 'endpoint id');
    await client.endpoints.delete(id);
    if (json) printJson({ id, deleted: true });
    else print(`deleted ${id}`);
    return EXIT_CODES.ok;
  },
};

const test: Subcommand = {
  summary: 'send a sample event (not stored) through the real delivery path',
  options: { type: { type: 'string' } },
  help: `mailhook endpoints test <ep_id> [--type <event type>] [--json]

Queues one signed delivery of a sample event (default email.delivered); follow it with
"mailhook deliveries show <dlv_id>".
Examples:
  mailhook endpoints test ep_01JD…
  mailhook endpoints test ep_01JD… --type email.bounced
`,
  async run({ values, positionals, json, client }) {
    const id = onePositional(positionals, 'endpoint id');
    const sent = await client.endpoints.test(id, stringValue(values, 'type'));
    if (json) printJson(sent);
    else print(`queued ${sent.event.type} test delivery ${sent.delivery_id} to ${id}`);
    return EXIT_CODES.ok;
  },
};

function statusChange(action: 'pause' | 'resume'): Subcommand {
  return {
    summary:
      action === 'pause'
        ? 'pause deliveries (they accumulate)'
        : 'resume a paused or disabled endpoint (what accumulated drains)',
    help: `mailhook endpoints ${action} <ep_id> [--json]

Example:
  mailhook endpoints ${action} ep_01JD…
`,
    async run({ positionals, json, client }) {
      const id = onePositional(positionals, 'endpoint id');
      const endpoint =
        action === 'pause' ? await client.endpoints.pause(id) : await client.endpoints.resume(id);
      if (json) printJson(endpoint);
      else print(`${endpoint.id} is ${endpoint.status}`);
      return EXIT_CODES.ok;
    },
  };
}

export function endpointsCommand(args: string[]): Promise<number> {
  return runResource(
    'endpoints',
    INTRO,
    { add, list, show, rm, test, pause: statusChange('pause'), resume: statusChange('resume') },
    args,
  );
}
