/**
 * Which events an endpoint receives: its event-type patterns and an optional filter. Pure, so the
 * fan-out and the API's validation share one definition of "matches".
 */
import { MailhookError } from '../errors.js';
import { type CanonicalEvent, EMAIL_EVENT_TYPES, routingFields, SYSTEM_EVENT_TYPES } from '../events.js';

const CLOSED_NAMESPACES: ReadonlyArray<[string, readonly string[]]> = [
  ['email.', EMAIL_EVENT_TYPES],
  ['system.', SYSTEM_EVENT_TYPES],
];

/**
 * Each clause reads the top level of the event's data (routingFields): for an event of the
 * publisher's own type, `data.metadata` and `data.tags` when the publisher sent them in those
 * shapes, and `data.recipient` when it is a string; an event without them matches no such clause.
 */
export interface EndpointFilter {
  /** Each key must be present in `data.metadata` with exactly this JSON value (`===`). */
  metadata?: Record<string, string | number | boolean>;
  /** The event must carry all of these tags (`data.tags`). */
  tags?: string[];
  /** Lower-case domains; the recipient's domain must equal one of them (no subdomain matching). */
  recipient_domains?: string[];
}

/**
 * `*` matches every type, `email.*` every type under `email.` (`email.bounced`, not `emailx.a`
 * nor `email` itself), anything else only itself. An empty list means all types.
 * mailhook's own operational events (`system.*`) go only to endpoints that name them
 * (`system.*`, `system.endpoint.*`, an exact type): an endpoint that takes "everything" gets the
 * events it exists for, not mailhook's health reports about itself.
 */
export function typeMatches(patterns: string[], type: string): boolean {
  const system = type.startsWith('system.');
  if (patterns.length === 0) return !system;
  return patterns.some(
    (pattern) => patternMatches(pattern, type) && (!system || pattern.startsWith('system.')),
  );
}

function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) {
    // Keep the dot in the prefix so `email.*` cannot match `emailx.a`.
    const prefix = pattern.slice(0, -1);
    return type.length > prefix.length && type.startsWith(prefix);
  }
  return pattern === type;
}

/**
 * True when the event's type matches and every clause of the filter holds. Metadata is compared
 * with `===` on the JSON value, so `{"plan": 1}` does not match metadata `{"plan": "1"}`: a
 * filter that silently converted types would route events the author did not mean. An empty
 * clause (`tags: []`) constrains nothing.
 */
export function eventMatches(
  endpoint: { eventTypes: string[]; filter: EndpointFilter | null },
  event: CanonicalEvent,
): boolean {
  if (!typeMatches(endpoint.eventTypes, event.type)) return false;
  const filter = endpoint.filter;
  if (filter === null) return true;
  // Replays and redeliveries match stored events, whose data for an own type is the publisher's.
  const { metadata, tags, recipient } = routingFields(event.data);

  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    if (!Object.hasOwn(metadata, key) || metadata[key] !== value) return false;
  }
  if (filter.tags && !filter.tags.every((tag) => tags.includes(tag))) return false;
  const domains = filter.recipient_domains;
  if (domains && domains.length > 0) {
    const domain = recipientDomain(recipient);
    if (domain === null || !domains.some((d) => d.toLowerCase() === domain)) return false;
  }
  return true;
}

/** The part after the last `@`, lower-cased (domains are case-insensitive; local parts are not). */
function recipientDomain(recipient: string | null): string | null {
  if (recipient === null) return null;
  const at = recipient.lastIndexOf('@');
  return at < 0 || at === recipient.length - 1 ? null : recipient.slice(at + 1).toLowerCase();
}

// Dot-separated segments of [a-z0-9_-], optionally ending in `.*`; or `*` alone. Empty segments
// (`email..sent`, `.x`) are refused: they can only be typos.
const PATTERN = /^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$/;
const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 100;
const MAX_LIST = 100;

function invalid(message: string): MailhookError {
  return new MailhookError('MH_ERR_VALIDATION', message);
}

/**
 * Checks `event_types` from the API: an array of patterns (missing or null means all types).
 * Returns the patterns without duplicates.
 */
export function validateEventTypes(patterns: unknown): string[] {
  if (patterns === undefined || patterns === null) return [];
  if (!Array.isArray(patterns)) throw invalid('event_types must be an array of strings');
  if (patterns.length > MAX_PATTERNS) throw invalid(`event_types may list at most ${MAX_PATTERNS} patterns`);
  for (const pattern of patterns) {
    if (typeof pattern !== 'string') throw invalid('event_types must be an array of strings');
    if (pattern.length > MAX_PATTERN_LENGTH || !PATTERN.test(pattern)) {
      throw invalid(
        `event_types: "${pattern.slice(0, MAX_PATTERN_LENGTH)}" is not a valid pattern; use an exact type ` +
          '(email.bounced), a prefix wildcard (email.*) or *, in lower case',
      );
    }
    // The email.* and system.* namespaces are closed (DESIGN.md): a pattern there that no type can
    // match is a typo that would otherwise silently receive nothing.
    for (const [prefix, types] of CLOSED_NAMESPACES) {
      if (pattern.startsWith(prefix) && !types.some((type) => patternMatches(pattern, type))) {
        throw invalid(
          `event_types: "${pattern}" matches no ${prefix.slice(0, -1)} event type; they are ${types.join(', ')}`,
        );
      }
    }
  }
  return [...new Set(patterns as string[])];
}

const FILTER_KEYS = ['metadata', 'tags', 'recipient_domains'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks `filter` from the API and returns it normalised (domains lower-cased, empty clauses
 * dropped), or null when there is nothing to filter on.
 */
export function validateFilter(filter: unknown): EndpointFilter | null {
  if (filter === undefined || filter === null) return null;
  if (!isPlainObject(filter)) throw invalid('filter must be an object');
  const unknown = Object.keys(filter).filter((key) => !(FILTER_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw invalid(
      `filter: unknown key ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${FILTER_KEYS.join(', ')}`,
    );
  }

  const result: EndpointFilter = {};
  if (filter.metadata !== undefined) {
    const metadata = validateMetadata(filter.metadata);
    if (Object.keys(metadata).length > 0) result.metadata = metadata;
  }
  if (filter.tags !== undefined) {
    const tags = stringList(filter.tags, 'filter.tags');
    if (tags.length > 0) result.tags = tags;
  }
  if (filter.recipient_domains !== undefined) {
    const domains = stringList(filter.recipient_domains, 'filter.recipient_domains').map((d) =>
      d.toLowerCase(),
    );
    for (const domain of domains) {
      if (domain.includes('@') || /\s/.test(domain)) {
        throw invalid(`filter.recipient_domains: "${domain}" is not a domain (example: "example.com")`);
      }
    }
    if (domains.length > 0) result.recipient_domains = [...new Set(domains)];
  }
  return Object.keys(result).length > 0 ? result : null;
}

function validateMetadata(value: unknown): Record<string, string | number | boolean> {
  if (!isPlainObject(value)) {
    throw invalid('filter.metadata must be an object of strings, numbers or booleans');
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_LIST) throw invalid(`filter.metadata may have at most ${MAX_LIST} keys`);
  for (const [key, v] of entries) {
    const ok =
      typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok) {
      throw invalid(
        `filter.metadata.${key} must be a string, a number or a boolean (objects and null cannot be matched)`,
      );
    }
  }
  // Built with fromEntries so a key named `__proto__` stays an ordinary key.
  return Object.fromEntries(entries) as Record<string, string | number | boolean>;
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw invalid(`${name} must be an array of non-empty strings`);
  }
  if (value.length > MAX_LIST) throw invalid(`${name} may list at most ${MAX_LIST} entries`);
  return value as string[];
}
