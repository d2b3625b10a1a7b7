import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { MailhookClient } from '../../client/index.js';
import {
  type Action,
  type Declaration,
  endpointInput,
  type PlanOptions,
  plan,
  readDeclaration,
  type ServerState,
} from '../apply-plan.js';
import { EXIT_CODES, runSingle, type Subcommand, stringValue } from '../http.js';
import { print, printJson } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook apply -f mailhook.json`: make the server's sources and endpoints match a file. */

const HELP = `mailhook apply -f <file.json|file.yaml> [--dry-run] [--prune] [--update-secrets] [--json]

Creates and updates sources and endpoints so that they match the file; a second apply of the same
file changes nothing. Sources are matched by name, endpoints by name (kept as their description).
Only the fields a declaration names are managed. "\${VAR}" in any string is replaced by that
environment variable, so secrets stay out of the file. JSON, or YAML for .yaml/.yml files.

  -f, --file <path>    the declaration ("-" reads standard input)
  --dry-run            print the plan, change nothing
  --prune              also delete sources and endpoints the file does not name
  --update-secrets     re-send declared source credentials even when the same keys are set
                       (their values are write-only, so apply cannot see whether they changed)

File:
  {
    "sources": [
      {"name": "SendGrid production", "provider": "sendgrid", "config": {"public_key": "\${SENDGRID_KEY}"}}
    ],
    "endpoints": [
      {"name": "crm", "url": "https://crm.example.com/hooks", "event_types": ["email.bounced"],
       "secret": "\${CRM_WEBHOOK_SECRET}", "status": "active"}
    ]
  }
Source fields: name, provider, config, enabled. Endpoint fields: name, url, event_types, filter,
headers, secret, rate_limit, max_concurrency, status (active|paused).

Examples:
  mailhook apply -f mailhook.json --dry-run
  mailhook apply -f mailhook.json --json
`;

async function readText(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function load(file: string): Promise<Declaration> {
  const yaml = ['.yaml', '.yml'].includes(extname(file).toLowerCase());
  let text: string;
  try {
    text = await readText(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `${file} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  return readDeclaration(parsed, process.env);
}

async function serverState(client: MailhookClient, declaration: Declaration): Promise<ServerState> {
  const [sources, endpoints] = await Promise.all([client.sources.list(), client.endpoints.list()]);
  const secrets = new Map<string, string | null>();
  const headers = new Map<string, Record<string, string>>();
  // Secrets and header values can be compared (the reveal calls): fetched only for endpoints whose
  // file names them.
  for (const spec of declaration.endpoints) {
    const existing = endpoints.data.find((e) => e.description === spec.name);
    if (!existing) continue;
    if (spec.secret !== undefined)
      secrets.set(existing.id, (await client.endpoints.secret(existing.id)).secret);
    if (spec.headers !== undefined)
      headers.set(existing.id, (await client.endpoints.headers(existing.id)).headers);
  }
  return { sources: sources.data, endpoints: endpoints.data, secrets, headers };
}

const SIGN = { create: '+', update: '~', delete: '-', unchanged: '=' } as const;

function describe(action: Action): string {
  const head = `${SIGN[action.op]} ${action.kind} "${action.name}"`;
  switch (action.op) {
    case 'create':
      return `${head}: create`;
    case 'update':
      return `${head} (${action.id}): ${action.changes.join('; ')}`;
    case 'delete':
      return `${head} (${action.id}): delete`;
    case 'unchanged':
      return `${head} (${action.id}): unchanged`;
  }
}

interface Outcome {
  op: Action['op'];
  kind: Action['kind'];
  name: string;
  id: string;
  changes?: string[];
  /** A generated endpoint secret: shown once, here. */
  secret?: string;
}

async function execute(client: MailhookClient, action: Action): Promise<Outcome> {
  const base = { op: action.op, kind: action.kind, name: action.name };
  switch (action.op) {
    case 'unchanged':
      return { ...base, id: action.id };
    case 'delete':
      if (action.kind === 'source') await client.sources.delete(action.id);
      else await client.endpoints.delete(action.id);
      return { ...base, id: action.id };
  }
  if (action.kind === 'source') {
    if (action.op === 'create') return { ...base, id: (await client.sources.create(action.spec)).id };
    await client.sources.update(action.id, action.patch);
    return { ...base, id: action.id, changes: action.changes };
  }
  if (action.op === 'create') {
    const created = await client.endpoints.create(endpointInput(action.spec));
    return { ...base, id: created.id, ...(action.spec.secret === undefined && { secret: created.secret }) };
  }
  if (Object.keys(action.patch).length > 0) await client.endpoints.update(action.id, action.patch);
  if (action.secret) await client.endpoints.rotateSecret(action.id, { secret: action.secret });
  if (action.status === 'paused') await client.endpoints.pause(action.id);
  if (action.status === 'active') await client.endpoints.resume(action.id);
  return { ...base, id: action.id, changes: action.changes };
}

const ORDER = { source: 0, endpoint: 1 } as const;

const applyCommand: Subcommand = {
  summary: 'make sources and endpoints match a JSON file',
  options: {
    file: { type: 'string', short: 'f' },
    'dry-run': { type: 'boolean' },
    prune: { type: 'boolean' },
    'update-secrets': { type: 'boolean' },
  },
  help: HELP,
  async run({ values, positionals, json, client }) {
    const file = stringValue(values, 'file') ?? positionals[0];
    if (!file) throw new UsageError('-f <file> is required');
    const declaration = await load(file);
    const options: PlanOptions = {
      prune: values.prune === true,
      updateSecrets: values['update-secrets'] === true,
    };
    const actions = plan(declaration, await serverState(client, declaration), options);
    const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
    for (const action of actions) counts[action.op]++;
    const dryRun = values['dry-run'] === true;
    if (dryRun) {
      if (json) {
        printJson({
          dry_run: true,
          counts,
          actions: actions.map((a) => ({
            op: a.op,
            kind: a.kind,
            name: a.name,
            ...('id' in a && { id: a.id }),
            ...('changes' in a && { changes: a.changes }),
          })),
        });
      } else {
        print(actions.map(describe).join('\n') || '(the file declares nothing)');
        print(
          `plan: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.unchanged} unchanged`,
        );
      }
      return EXIT_CODES.ok;
    }
    // Deletions last, so that a failure half-way never leaves fewer resources than before.
    const ordered = [...actions].sort(
      (a, b) => Number(a.op === 'delete') - Number(b.op === 'delete') || ORDER[a.kind] - ORDER[b.kind],
    );
    const outcomes: Outcome[] = [];
    for (const action of ordered) {
      const outcome = await execute(client, action);
      outcomes.push(outcome);
      if (!json) {
        const secret = outcome.secret ? `\n    signing secret (shown once): ${outcome.secret}` : '';
        print(`${describe(action).replace(': create', `: created ${outcome.id}`)}${secret}`);
      }
    }
    if (json) printJson({ dry_run: false, counts, actions: outcomes });
    else
      print(
        `applied: ${counts.create} created, ${counts.update} updated, ${counts.delete} deleted, ${counts.unchanged} unchanged`,
      );
    return EXIT_CODES.ok;
  },
};

export function applyCommandMain(args: string[]): Promise<number> {
  return runSingle('apply', applyCommand, args);
}
