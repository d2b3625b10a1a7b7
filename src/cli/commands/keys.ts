import { MailhookApiError, type MailhookClient } from '../../client/index.js';
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
  options: { yes: { type: 'boolean', short: 'y' }, force: { type: 'boolean' } },
  help: `mailhook keys revoke <key_id> [--yes] [--json]

The key is refused from the next request on. The last active key cannot be revoked. Revoking the
key this command runs with (marked * in "mailhook keys list") ends your access: it needs --yes
(or --force).
Options:
  -y, --yes     confirm revoking the key this command authenticates with
  --force       the same as --yes
Examples:
  mailhook keys revoke key_01JD…
  mailhook keys revoke key_01JD… --yes   # the current key, once another one is in place
`,
  async run({ values, positionals, json, client }) {
    const id = onePositional(positionals, 'key id');
    const confirmed = values.yes === true || values.force === true;
    try {
      // The server refuses to revoke the caller's own key unless told it is meant.
      await client.keys.revoke(id, confirmed ? { confirm: 'self' } : {});
    } catch (err) {
      if (
        !confirmed &&
        err instanceof MailhookApiError &&
        err.status === 400 &&
        (await isOwnKey(client, id))
      ) {
        throw new UsageError(
          `${id} is the key this command runs with: revoking it ends your access. Pass --yes to revoke it anyway`,
        );
      }
      throw err;
    }
    if (json) printJson({ id, revoked: true });
    else print(`revoked ${id}`);
    return EXIT_CODES.ok;
  },
};

/**
 * Whether the refusal was the server's own-key rule: `id` is the key the client authenticates with
 * and others remain (with none left, the last-key rule answers, and --yes would not help).
 */
async function isOwnKey(client: MailhookClient, id: string): Promise<boolean> {
  const { data } = await client.keys.list();
  return data.length > 1 && data.some((key) => key.id === id && key.current);
}

export function keysCommand(args: string[]): Promise<number> {
  return runResource('keys', INTRO, { create, list, revoke }, args);
}
