import type { Endpoint, EndpointInput, Source } from '../client/index.js';
import { validateFilter } from '../delivery/filter.js';
import { UsageError } from './usage.js';

/**
 * Config as code, the pure half: read a declaration of sources and endpoints and compare it with
 * what the server has. Sources are matched by name; endpoints by name, which is kept as the
 * endpoint's description (endpoints have no other human key). Only the fields a declaration names
 * are managed: leave a field out and its current value stays. Nothing is deleted unless asked.
 */

export interface SourceSpec {
  name: string;
  provider: string;
  config?: Record<string, unknown>;
  enabled?: boolean;
}

export interface EndpointSpec {
  name: string;
  url: string;
  event_types?: string[] | null;
  filter?: Record<string, unknown> | null;
  headers?: Record<string, string>;
  secret?: string;
  rate_limit?: number | null;
  max_concurrency?: number;
  status?: 'active' | 'paused';
}

export interface Declaration {
  sources: SourceSpec[];
  endpoints: EndpointSpec[];
}

export type Action =
  | { op: 'create'; kind: 'source'; name: string; spec: SourceSpec }
  | {
      op: 'update';
      kind: 'source';
      name: string;
      id: string;
      changes: string[];
      patch: Record<string, unknown>;
    }
  | { op: 'create'; kind: 'endpoint'; name: string; spec: EndpointSpec }
  | {
      op: 'update';
      kind: 'endpoint';
      name: string;
      id: string;
      changes: string[];
      patch: Record<string, unknown>;
      secret?: string;
      status?: 'active' | 'paused';
    }
  | { op: 'delete'; kind: 'source' | 'endpoint'; name: string; id: string }
  | { op: 'unchanged'; kind: 'source' | 'endpoint'; name: string; id: string };

const SOURCE_KEYS = new Set(['name', 'provider', 'config', 'enabled']);
const ENDPOINT_KEYS = new Set([
  'name',
  'url',
  'event_types',
  'filter',
  'headers',
  'secret',
  'rate_limit',
  'max_concurrency',
  'status',
]);

const REDACTED = '[redacted]';

/** `${NAME}` in any string is replaced by that environment variable, so secrets stay out of git. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = '$'): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new UsageError(`${path} refers to \${${name}}, which is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandEnv(item, env, `${path}.${key}`)]),
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkEntries(list: unknown, what: string, allowed: Set<string>, required: string[]): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new UsageError(`"${what}" must be an array`);
  const names = new Set<string>();
  list.forEach((item, i) => {
    if (!isObject(item)) throw new UsageError(`${what}[${i}] must be an object`);
    const unknown = Object.keys(item).filter((key) => !allowed.has(key));
    if (unknown.length > 0) {
      throw new UsageError(
        `${what}[${i}]: unknown field ${unknown.join(', ')}; allowed: ${[...allowed].join(', ')}`,
      );
    }
    for (const key of required) {
      if (typeof item[key] !== 'string' || item[key] === '') {
        throw new UsageError(`${what}[${i}]: "${key}" is required (a string)`);
      }
    }
    if (names.has(item.name as string))
      throw new UsageError(`${what}: the name "${item.name}" appears twice`);
    names.add(item.name as string);
  });
}

/** Validates the shape of a parsed file (values are the server's to validate) and expands `${VAR}`. */
export function readDeclaration(parsed: unknown, env: NodeJS.ProcessEnv): Declaration {
  if (!isObject(parsed))
    throw new UsageError('the file must hold an object {"sources": [...], "endpoints": [...]}');
  const unknown = Object.keys(parsed).filter(
    (key) => key !== 'sources' && key !== 'endpoints' && key !== '$schema',
  );
  if (unknown.length > 0) throw new UsageError(`unknown top-level field ${unknown.join(', ')}`);
  checkEntries(parsed.sources, 'sources', SOURCE_KEYS, ['name', 'provider']);
  checkEntries(parsed.endpoints, 'endpoints', ENDPOINT_KEYS, ['name', 'url']);
  const expanded = expandEnv(parsed, env) as Partial<Declaration>;
  return { sources: expanded.sources ?? [], endpoints: expanded.endpoints ?? [] };
}

/** JSON with sorted keys, so that key order never counts as a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Finds a server item by name; a declared name held by two items cannot be applied safely. */
function byName<T>(items: T[], nameOf: (item: T) => string, kind: string): (name: string) => T | undefined {
  return (name) => {
    const found = items.filter((item) => nameOf(item) === name);
    if (found.length > 1)
      throw new UsageError(`two ${kind}s on the server are named "${name}"; rename one first`);
    return found[0];
  };
}

function normalUrl(url: string): string {
  try {
    return new URL(url).toString();
  } catch {
    return url;
  }
}

export interface PlanOptions {
  /** Delete what the declaration does not name. */
  prune: boolean;
  /** Send declared source credentials even when the same keys are configured (values are write-only). */
  updateSecrets: boolean;
}

function planSource(spec: SourceSpec, existing: Source | undefined, options: PlanOptions): Action {
  if (!existing) return { op: 'create', kind: 'source', name: spec.name, spec };
  if (existing.provider !== spec.provider) {
    throw new UsageError(
      `source "${spec.name}" is a ${existing.provider} source on the server, not ${spec.provider}; ` +
        'a provider cannot change: give the new one another name',
    );
  }
  const changes: string[] = [];
  const patch: Record<string, unknown> = {};
  if (spec.enabled !== undefined && spec.enabled !== existing.enabled) {
    changes.push(`enabled: ${existing.enabled} → ${spec.enabled}`);
    patch.enabled = spec.enabled;
  }
  if (spec.config !== undefined) {
    const declared = Object.keys(spec.config).sort();
    // Credentials are write-only: only their names can be compared.
    if (canonical(declared) !== canonical(existing.config_keys)) {
      changes.push(`config keys: [${existing.config_keys.join(', ')}] → [${declared.join(', ')}]`);
      patch.config = spec.config;
    } else if (options.updateSecrets) {
      changes.push('config: re-sent (--update-secrets)');
      patch.config = spec.config;
    }
  }
  if (changes.length === 0) return { op: 'unchanged', kind: 'source', name: spec.name, id: existing.id };
  return { op: 'update', kind: 'source', name: spec.name, id: existing.id, changes, patch };
}

function headersDiffer(declared: Record<string, string>, current: Record<string, string>, secrets: boolean) {
  const lower = Object.fromEntries(Object.entries(declared).map(([k, v]) => [k.toLowerCase(), v]));
  if (canonical(Object.keys(lower).sort()) !== canonical(Object.keys(current).sort())) return true;
  // Values are compared for real when they were revealed (ServerState.headers). A masked value, from
  // a listing alone, counts as unchanged unless secrets are re-sent, so a re-apply never "updates".
  return Object.entries(lower).some(([k, v]) => (current[k] === REDACTED ? secrets : current[k] !== v));
}

/** The filter as the server keeps it; as declared when invalid, so that the server names the error. */
function storedFilter(filter: unknown): unknown {
  try {
    return validateFilter(filter);
  } catch {
    return filter;
  }
}

/** A number written as a string in YAML or JSON ("3"), as the API's schema coerces it. */
function numeric(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
    ? Number(value)
    : value;
}

function planEndpoint(
  spec: EndpointSpec,
  existing: Endpoint | undefined,
  current: { secret: string | null; headers: Record<string, string> | undefined },
  options: PlanOptions,
): Action {
  if (!existing) return { op: 'create', kind: 'endpoint', name: spec.name, spec };
  const changes: string[] = [];
  const patch: Record<string, unknown> = {};
  const compare = (field: string, declared: unknown, current: unknown, value: unknown = declared) => {
    if (canonical(declared) !== canonical(current)) {
      changes.push(field);
      patch[field] = value;
    }
  };
  compare('url', normalUrl(spec.url), existing.url, spec.url);
  // Declared values are compared as the server stores them (patterns deduplicated, domains lower-cased,
  // empty filter lists dropped, numbers given as strings coerced), or every start would "update".
  if (spec.event_types !== undefined) {
    compare(
      'event_types',
      [...new Set(spec.event_types ?? [])].sort(),
      [...existing.event_types].sort(),
      spec.event_types,
    );
  }
  if (spec.filter !== undefined) compare('filter', storedFilter(spec.filter), existing.filter, spec.filter);
  const currentHeaders = current.headers ?? existing.headers;
  if (spec.headers !== undefined && headersDiffer(spec.headers, currentHeaders, options.updateSecrets)) {
    changes.push('headers');
    patch.headers = spec.headers;
  }
  if (spec.rate_limit !== undefined)
    compare('rate_limit', numeric(spec.rate_limit), existing.rate_limit, spec.rate_limit);
  if (spec.max_concurrency !== undefined)
    compare('max_concurrency', numeric(spec.max_concurrency), existing.max_concurrency, spec.max_concurrency);
  const secret = spec.secret !== undefined && spec.secret !== current.secret ? spec.secret : undefined;
  if (secret) changes.push('secret (rotated; the old one signs for 24 h more)');
  const status = spec.status !== undefined && spec.status !== existing.status ? spec.status : undefined;
  if (status) changes.push(`status: ${existing.status} → ${status}`);
  if (changes.length === 0) return { op: 'unchanged', kind: 'endpoint', name: spec.name, id: existing.id };
  return {
    op: 'update',
    kind: 'endpoint',
    name: spec.name,
    id: existing.id,
    changes,
    patch,
    ...(secret && { secret }),
    ...(status && { status }),
  };
}

export interface ServerState {
  sources: Source[];
  endpoints: Endpoint[];
  /** Current signing secrets of matched endpoints whose declaration names a secret. */
  secrets: Map<string, string | null>;
  /**
   * Revealed custom header values (the API masks them) of matched endpoints whose declaration names
   * headers, so that a changed value is seen and an unchanged one is left alone.
   */
  headers: Map<string, Record<string, string>>;
}

export function plan(declaration: Declaration, state: ServerState, options: PlanOptions): Action[] {
  const sources = byName(state.sources, (s) => s.name, 'source');
  const endpoints = byName(state.endpoints, (e) => e.description, 'endpoint');
  const actions: Action[] = [];
  for (const spec of declaration.sources) actions.push(planSource(spec, sources(spec.name), options));
  for (const spec of declaration.endpoints) {
    const existing = endpoints(spec.name);
    const current = {
      secret: existing ? (state.secrets.get(existing.id) ?? null) : null,
      headers: existing ? state.headers.get(existing.id) : undefined,
    };
    actions.push(planEndpoint(spec, existing, current, options));
  }
  if (options.prune) {
    const declaredSources = new Set(declaration.sources.map((s) => s.name));
    const declaredEndpoints = new Set(declaration.endpoints.map((e) => e.name));
    for (const s of state.sources) {
      if (!declaredSources.has(s.name))
        actions.push({ op: 'delete', kind: 'source', name: s.name, id: s.id });
    }
    for (const e of state.endpoints) {
      if (!declaredEndpoints.has(e.description)) {
        actions.push({ op: 'delete', kind: 'endpoint', name: e.description || e.url, id: e.id });
      }
    }
  }
  return actions;
}

/** The create body of a declared endpoint: its name becomes the description. */
export function endpointInput(spec: EndpointSpec): EndpointInput {
  const { name, ...fields } = spec;
  return { ...fields, description: name };
}
