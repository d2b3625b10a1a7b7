import { EXIT_CODES, onePositional, runResource, type Subcommand, stringValue } from '../http.js';
import { print, printJson, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook keys …`: API keys for the /v1 API. */

const INTRO = `mailhook keys — API keys for the /v1 API. A key is shown once, when created; only its hash
is stored. Every key has the same rights.
`;

const create: Subcommand = {
  summary: 'create a key and print it (once)',
  options: { name: { type: 'string' } },
  help: `mailhook keys create --name <name> [--json]

Examples:
  mailhook keys create --name ci
  export MAILHOOK_API_KEY=$(mailhook keys create --name deploy --json | jq -r .key)
`,
  async run({ values, positionals, json, client }) {
    const name = stringValue(values, 'name') ?? positionals[0];
    if (!name) throw new UsageError('--name is required');
    const key = await client.keys.create(name);
    if (json) printJson(key);
    else print(`created ${key.id} (${key.name}). The key, shown this once:\n  ${key.key}`);
    return EXIT_CODES.ok;
  },
};

const list: Subcommand = {
  summary: 'list active keys (never the keys themselves)',
  help: `mailhook keys list [--json]

The key this command authenticated with is marked with *.
Example:
  mailhook keys list
`,
  async run({ json, client }) {
    const { data } = await client.keys.list();
    if (json) printJson({ data });
    else {
      print(
        table(
          ['', 'ID', 'NAME', 'CREATED'],
          data.map((k) => [k.current ? '*' : ' ', k.id, k.name, shortTime(k.created_at)]),
        ),
      );
    }
    return EXIT_CODES.ok;
  },
};

const revoke: Subcommand = {
  summary: 'revoke a key for good',
  help: `mailhook keys revoke <key_id> [--json]

A server that checked the key in the last few seconds may accept it until its auth cache expires
(5 s). The last active key cannot be revoked.
Example:
  mailhook keys revoke key_01JD…
`,
  async run({ positionals, json, client }) {
    const id = onePositional(positionals, 'key id');
    await client.keys.revoke(id);
    if (json) printJson({ id, revoked: true });
    else print(`revoked ${id}`);
    return EXIT_CODES.ok;
  },
};

export function keysCommand(args: string[]): Promise<number> {
  return runResource('keys', INTRO, { create, list, revoke }, args);
}
