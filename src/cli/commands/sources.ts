import type { Source } from '../../client/index.js';
import {
  EXIT_CODES,
  jsonObjectValue,
  onePositional,
  pairsValue,
  runResource,
  type Subcommand,
  stringValue,
  type Values,
} from '../http.js';
import { keyValues, print, printJson, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook sources …`: the provider accounts that post to mailhook. */

const INTRO = `mailhook sources — provider accounts that post to mailhook (one ingest URL each).
`;

/** `--config <json>` merged with repeated `--set key=value` (a value that is JSON is parsed). */
function configFrom(values: Values): Record<string, unknown> | undefined {
  const base = jsonObjectValue(values, 'config');
  const pairs = pairsValue(values, 'set');
  if (!base && !pairs) return undefined;
  const config: Record<string, unknown> = { ...base };
  for (const [name, text] of Object.entries(pairs ?? {})) {
    try {
      config[name] = /^[[{]/.test(text) ? JSON.parse(text) : text;
    } catch {
      config[name] = text;
    }
  }
  return config;
}

function describe(source: Source): string {
  return `${keyValues([
    ['id', source.id],
    ['name', source.name],
    ['provider', source.provider],
    ['enabled', source.enabled],
    ['ingest url', source.ingest_url],
    ['config keys', source.config_keys.join(', ') || '(none)'],
    ...(Object.keys(source.state).length > 0 ? [['state', source.state] as [string, unknown]] : []),
    ['created', shortTime(source.created_at)],
  ])}\nSetup:\n${source.setup}\n`;
}

const CONFIG_OPTIONS = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const;

const add: Subcommand = {
  summary: 'create a source; prints its ingest URL and setup steps',
  options: {
    name: { type: 'string' },
    provider: { type: 'string' },
    disabled: { type: 'boolean' },
    ...CONFIG_OPTIONS,
  },
  help: `mailhook sources add --name <name> --provider <id> [--config <json>] [--set key=value]… [--disabled]

Creates a source. Credentials (config) are write-only: the server never returns them.
  --name <name>        a label (e.g. "SendGrid production")
  --provider <id>      sendgrid, mailgun, ses, postmark, sparkpost, mailjet, brevo, resend, loops,
                       mandrill, mailersend, postal, smtp2go, elasticemail, standard
  --config <json>      the provider's credentials, e.g. '{"signing_key": "…"}'
  --set key=value      one config key (repeatable; merged over --config)
  --disabled           create it disabled (posts are refused until enabled)

Examples:
  mailhook sources add --name "SendGrid production" --provider sendgrid
  mailhook sources add --name Mailgun --provider mailgun --set signing_key=key-…
  mailhook sources add --name Resend --provider resend --config '{"secret": "whsec_…"}' --json
`,
  async run({ values, positionals, json, client }) {
    const name = stringValue(values, 'name') ?? positionals[0];
    const provider = stringValue(values, 'provider');
    if (!name || !provider) throw new UsageError('--name and --provider are required');
    const config = configFrom(values);
    const source = await client.sources.create({
      name,
      provider,
      ...(config && { config }),
      ...(values.disabled === true && { enabled: false }),
    });
    if (json) printJson(source);
    else print(describe(source));
    return EXIT_CODES.ok;
  },
};

const list: Subcommand = {
  summary: 'list sources',
  help: `mailhook sources list [--json]

Examples:
  mailhook sources list
  mailhook sources list --json | jq -r '.data[].ingest_url'
`,
  async run({ json, client }) {
    const { data } = await client.sources.list();
    if (json) printJson({ data });
    else {
      print(
        table(
          ['ID', 'NAME', 'PROVIDER', 'ENABLED', 'INGEST URL'],
          data.map((s) => [s.id, s.name, s.provider, s.enabled ? 'yes' : 'no', s.ingest_url]),
          'No sources yet: mailhook sources add --name … --provider …',
        ),
      );
    }
    return EXIT_CODES.ok;
  },
};

const show: Subcommand = {
  summary: 'show one source with its setup steps',
  help: `mailhook sources show <src_id> [--json]

Example:
  mailhook sources show src_01JD…
`,
  async run({ positionals, json, client }) {
    const source = await client.sources.get(onePositional(positionals, 'source id'));
    if (json) printJson(source);
    else print(describe(source));
    return EXIT_CODES.ok;
  },
};

const rm: Subcommand = {
  summary: 'delete a source (its events and inbox rows stay)',
  help: `mailhook sources rm <src_id> [--json]

Posts to its ingest URL are refused from then on (404). Stored events are kept.
Example:
  mailhook sources rm src_01JD…
`,
  async run({ positionals, json, client }) {
    const id = onePositional(positionals, 'source id');
    await client.sources.delete(id);
    if (json) printJson({ id, deleted: true });
    else print(`deleted ${id}`);
    return EXIT_CODES.ok;
  },
};

const setup: Subcommand = {
  summary: "print what to paste into the provider's dashboard; --config/--set update credentials",
  options: { ...CONFIG_OPTIONS, enable: { type: 'boolean' }, disable: { type: 'boolean' } },
  help: `mailhook sources setup <src_id> [--config <json>] [--set key=value]… [--enable|--disable]

Prints the source's ingest URL and the provider-specific steps. With --config or --set, first
replaces the source's credentials (e.g. the SendGrid verification key shown after you enable
signing), so the steps can be finished from the terminal.

Examples:
  mailhook sources setup src_01JD…
  mailhook sources setup src_01JD… --set public_key=MFkwEwYHKoZIzj0…
`,
  async run({ values, positionals, json, client }) {
    const id = onePositional(positionals, 'source id');
    if (values.enable && values.disable) throw new UsageError('--enable and --disable exclude each other');
    const config = configFrom(values);
    const enabled = values.enable ? true : values.disable ? false : undefined;
    const source =
      config || enabled !== undefined
        ? await client.sources.update(id, {
            ...(config && { config }),
            ...(enabled !== undefined && { enabled }),
          })
        : await client.sources.get(id);
    if (json)
      printJson({
        id: source.id,
        ingest_url: source.ingest_url,
        config_keys: source.config_keys,
        setup: source.setup,
      });
    else
      print(
        `Ingest URL: ${source.ingest_url}\nConfigured: ${source.config_keys.join(', ') || '(nothing yet)'}\n\n${source.setup}`,
      );
    return EXIT_CODES.ok;
  },
};

export function sourcesCommand(args: string[]): Promise<number> {
  return runResource('sources', INTRO, { add, list, show, rm, setup }, args);
}
