import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { generateApiKey, hashApiKey } from './api/auth.js';
import { endpointView } from './api/endpoint-views.js';
import { sourceView } from './api/sources.js';
import {
  type Action,
  type Declaration,
  endpointInput,
  plan,
  readDeclaration,
  type ServerState,
} from './cli/apply-plan.js';
import { UsageError } from './cli/usage.js';
import { ConfigError } from './config.js';
import { newId } from './ids.js';
import type { Logger } from './logger.js';
import { validateSourceConfig } from './reconcile/source-config.js';
import type { Store } from './store/store.js';

/**
 * Config as code at start: `MAILHOOK_CONFIG=mailhook.yaml` (or .json) declares sources and endpoints;
 * `mailhook serve` makes the server match it before it listens. It is `mailhook apply` run in
 * process, with the same file format and the same plan (src/cli/apply-plan.ts): sources matched by
 * name, endpoints by name (kept as their description), only the named fields managed, `${VAR}`
 * replaced from the environment, deletions only with `"prune": true` in the file.
 *
 * Two differences from `mailhook apply`, both possible because it runs next to the store: the current
 * state is read from the store, so a start with nothing to change writes nothing at all; and
 * write-only source credentials are compared for real, so a secret changed in the environment is
 * applied at the next start. (Endpoint secrets and header values are compared for real by both:
 * `apply` reads them through the API's reveal calls.)
 *
 * Changes go through the /v1 routes (server.inject) with a key that exists only for the duration,
 * so every value gets exactly the API's validation.
 *
 * Not serialised across nodes: two nodes on one PostgreSQL database starting at the same moment could
 * both create a missing item (names are not unique in the store), so the README says to give the file
 * to one node.
 */

export const CONFIG_FILE_VARIABLE = 'MAILHOOK_CONFIG';

export interface ConfigFile {
  path: string;
  declaration: Declaration;
  prune: boolean;
}

function fail(path: string, problem: string): ConfigError {
  return new ConfigError(CONFIG_FILE_VARIABLE, `${path}: ${problem}`);
}

/** JSON, or YAML for `.yaml`/`.yml` files; the file's problems are ConfigErrors naming it. */
export function parseConfigText(path: string, text: string, env: NodeJS.ProcessEnv): ConfigFile {
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let parsed: unknown;
  try {
    parsed = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw fail(
      path,
      `not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]?.replace(/:$/, '')}`,
    );
  }
  let prune = false;
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'prune' in parsed) {
    const { prune: flag, ...rest } = parsed as Record<string, unknown>;
    if (typeof flag !== 'boolean') throw fail(path, '"prune" must be true or false');
    prune = flag;
    parsed = rest;
  }
  try {
    return { path, declaration: readDeclaration(parsed, env), prune };
  } catch (err) {
    throw fail(path, (err as Error).message);
  }
}

/** The file named by MAILHOOK_CONFIG, or null when the variable is unset. */
export async function readConfigFile(
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<ConfigFile | null> {
  const name = env[CONFIG_FILE_VARIABLE]?.trim();
  if (!name) return null;
  const path = resolve(cwd, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw fail(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseConfigText(path, text, env);
}

/** JSON with sorted keys, so that key order never counts as a difference. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The server's side, read from the store with the write-only values the API would hide. */
async function currentState(store: Store): Promise<ServerState> {
  const [sources, endpoints] = await Promise.all([store.listSources(), store.listEndpoints()]);
  return {
    sources: sources.map((s) => sourceView(s, '')),
    endpoints: endpoints.map(endpointView),
    secrets: new Map(endpoints.map((e) => [e.id, e.secrets[0]?.secret ?? null])),
    // Real header values (the view masks them), so a header changed in the environment counts as changed.
    headers: new Map(endpoints.map((e) => [e.id, e.headers])),
  };
}

/** Source credentials compared by value (the plan, written for the API, can compare only their names). */
async function withCredentialChanges(store: Store, declaration: Declaration, actions: Action[]) {
  const result: Action[] = [];
  for (const action of actions) {
    const spec = declaration.sources.find((s) => s.name === action.name);
    const record =
      action.op === 'unchanged' && action.kind === 'source' && spec?.config !== undefined
        ? await store.getSource(action.id)
        : null;
    if (action.op !== 'unchanged' || !record || spec?.config === undefined) {
      result.push(action);
      continue;
    }
    let declared: unknown;
    try {
      declared = validateSourceConfig(record.provider, spec.config);
    } catch {
      declared = spec.config; // invalid: the update is refused by the API with its own message
    }
    if (canonical(declared) === canonical(record.config)) result.push(action);
    else
      result.push({
        op: 'update',
        kind: 'source',
        name: action.name,
        id: action.id,
        changes: ['config values'],
        patch: { config: spec.config },
      });
  }
  return result;
}

type Call = (method: string, url: string, payload?: unknown) => Promise<Record<string, unknown>>;

/** The API answered with an error: a 4xx is the file's fault, a 5xx is not. */
class ApiRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One /v1 call in process; a refusal becomes an error carrying the API's code and message. */
function caller(server: FastifyInstance, key: string): Call {
  return async (method, url, payload) => {
    const res = await server.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
    });
    const body = res.body === '' ? {} : (res.json() as Record<string, unknown>);
    if (res.statusCode >= 300) {
      throw new ApiRefusal(res.statusCode, `${body.code ?? res.statusCode}: ${body.message ?? res.body}`);
    }
    return body;
  };
}

const seg = encodeURIComponent;

async function execute(call: Call, action: Action): Promise<string> {
  if (action.op === 'unchanged') return action.id;
  if (action.op === 'delete') {
    await call('DELETE', `/v1/${action.kind}s/${seg(action.id)}`);
    return action.id;
  }
  if (action.kind === 'source') {
    if (action.op === 'create') return String((await call('POST', '/v1/sources', action.spec)).id);
    await call('PATCH', `/v1/sources/${seg(action.id)}`, action.patch);
    return action.id;
  }
  if (action.op === 'create')
    return String((await call('POST', '/v1/endpoints', endpointInput(action.spec))).id);
  const at = `/v1/endpoints/${seg(action.id)}`;
  if (Object.keys(action.patch).length > 0) await call('PATCH', at, action.patch);
  if (action.secret) await call('POST', `${at}/rotate-secret`, { secret: action.secret });
  if (action.status === 'paused') await call('POST', `${at}/pause`);
  if (action.status === 'active') await call('POST', `${at}/resume`);
  return action.id;
}

const ORDER = { source: 0, endpoint: 1 } as const;

export interface AppliedConfig {
  path: string;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

/** Makes the server match a read config file; returns the counts. */
export async function applyDeclaration(
  file: ConfigFile,
  options: { server: FastifyInstance; store: Store; logger: Logger; now?: () => Date },
): Promise<AppliedConfig> {
  const { server, store, logger } = options;
  const now = options.now ?? (() => new Date());
  let planned: Action[];
  try {
    planned = plan(file.declaration, await currentState(store), { prune: file.prune, updateSecrets: false });
  } catch (err) {
    // The plan refuses what the file cannot mean (a provider change, a name held twice); the store's
    // own failures are not configuration errors.
    if (err instanceof UsageError) throw fail(file.path, err.message);
    throw err;
  }
  const actions = await withCredentialChanges(store, file.declaration, planned);
  const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const action of actions) counts[action.op]++;
  const changes = actions
    .filter((a) => a.op !== 'unchanged')
    // Deletions last, so that a failure half-way never leaves fewer resources than before.
    .sort((a, b) => Number(a.op === 'delete') - Number(b.op === 'delete') || ORDER[a.kind] - ORDER[b.kind]);
  if (changes.length > 0) {
    await server.ready();
    // A key for this start only: the plaintext lives in memory for the duration, then it is revoked.
    const key = generateApiKey();
    const keyId = newId('apiKey');
    await store.addApiKey({
      id: keyId,
      name: `${CONFIG_FILE_VARIABLE} (start)`,
      hash: hashApiKey(key),
      createdAt: now(),
    });
    try {
      const call = caller(server, key);
      for (const action of changes) {
        let id: string;
        try {
          id = await execute(call, action);
        } catch (err) {
          if (!(err instanceof ApiRefusal && err.status < 500)) throw err;
          throw fail(file.path, `${action.kind} "${action.name}" could not be ${action.op}d: ${err.message}`);
        }
        const spec = action.op === 'create' && action.kind === 'endpoint' ? action.spec : null;
        logger.info(
          {
            op: action.op,
            kind: action.kind,
            name: action.name,
            id,
            ...('changes' in action && { changes: action.changes }),
          },
          spec && spec.secret === undefined
            ? 'config file: endpoint created with a generated secret (reveal: GET /v1/endpoints/:id/secret)'
            : `config file: ${action.kind} ${action.op}d`,
        );
      }
    } finally {
      await store.revokeApiKey(keyId, now());
    }
  }
  const applied = {
    path: file.path,
    created: counts.create,
    updated: counts.update,
    deleted: counts.delete,
    unchanged: counts.unchanged,
  };
  logger.info(applied, 'config file applied');
  return applied;
}

/**
 * The start-up step: reads MAILHOOK_CONFIG (nothing to do when unset) and applies it. A bad file is a
 * ConfigError (exit 78) naming the file and the problem; the server and store it was given are closed
 * first, since the start ends there.
 */
export async function applyConfigFile(options: {
  env: NodeJS.ProcessEnv;
  server: FastifyInstance;
  store: Store;
  logger: Logger;
}): Promise<AppliedConfig | null> {
  try {
    const file = await readConfigFile(options.env);
    return file ? await applyDeclaration(file, options) : null;
  } catch (err) {
    await options.server.close().catch(() => {});
    await options.store.close().catch(() => {});
    throw err;
  }
}
