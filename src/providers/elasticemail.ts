import { MailhookError, MalformedPayloadError } from '../errors.js';
import type { EmailEventType, ParsedEvent } from '../events.js';
import {
  type CredentialConfig,
  credentialSetup,
  validateCredentialConfig,
  verifyCredentials,
} from './credentials.js';
import { asConfigObject, safeEqual, sha256Hex } from './crypto.js';
import {
  ERROR_CATEGORIES,
  type ErrorOutcome,
  KNOWN_FIELDS,
  parseEventDate,
  STATUS_TYPES,
} from './elasticemail-fields.js';
import { parseJsonLossless } from './json.js';
import {
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  verified,
} from './types.js';

/**
 * Elastic Email "HTTP Web Notifications": one HTTP **GET** per event to the notification URL with
 * the event as query parameters (`transaction, messageid, from, to, date, subject, status, channel,
 * account, category, target, postback`). Nothing is signed.
 *
 * Credentials: a GET carries no custom header, and whether Elastic Email turns `user:pass@` in the
 * URL into an Authorization header is UNCONFIRMED. So besides the shared basic-auth / header forms
 * (for POST deliveries or a proxy that adds them), a source may hold `query_token`: a secret the
 * user puts in the notification URL as `mh_token=…`, compared in constant time. Elastic Email keeps
 * the URL's own query string and adds its parameters to it.
 */
export const TOKEN_PARAM = 'mh_token';
const TOKEN_SHAPE = /^[A-Za-z0-9._~-]{16,256}$/;

function invalid(message: string): MailhookError {
  return new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', message);
}

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'elasticemail');
  const result: Record<string, unknown> = {};
  if (object.query_token !== undefined) {
    if (typeof object.query_token !== 'string' || !TOKEN_SHAPE.test(object.query_token)) {
      throw invalid(
        'elasticemail config.query_token must be 16–256 URL-safe characters (letters, digits, . _ ~ -)',
      );
    }
    result.query_token = object.query_token;
  }
  if (object.basic_auth !== undefined || object.header !== undefined) {
    const { basic_auth, header } = object;
    Object.assign(result, validateCredentialConfig({ basic_auth, header }, 'elasticemail'));
  }
  if (Object.keys(result).length === 0) {
    throw invalid(
      'elasticemail signs nothing and notifies by GET, so its sources need config.query_token (a secret for the notification URL) and/or config.basic_auth / config.header',
    );
  }
  return result;
}

function verify(req: RawRequest, source: Source): Verification {
  const {
    query_token: token,
    basic_auth,
    header,
  } = source.config as CredentialConfig & {
    query_token?: unknown;
  };
  if (typeof token !== 'string' && !basic_auth && !header) {
    return rejected('source has no credentials configured');
  }
  if (typeof token === 'string') {
    const given = new URLSearchParams(req.query).getAll(TOKEN_PARAM);
    if (given.length === 0) return rejected(`missing ${TOKEN_PARAM} query parameter`);
    // Exactly one: a second copy could otherwise smuggle a different value past a lenient reader.
    if (given.length > 1) return rejected(`${TOKEN_PARAM} query parameter repeated`);
    if (!safeEqual(given[0] ?? '', token)) return rejected(`${TOKEN_PARAM} does not match`);
  }
  if (basic_auth || header) {
    const checked = verifyCredentials(req, { basic_auth, header });
    if (!checked.ok) return checked;
  }
  return verified;
}

type Fields = Record<string, string>;

function fieldsOfQuery(query: string): Fields {
  const fields: Fields = {};
  for (const [key, value] of new URLSearchParams(query)) {
    // The secret never reaches the parsed event (it stays only in the raw inbox row's query).
    if (key !== TOKEN_PARAM) fields[key] = value;
  }
  return fields;
}

/** A POST (if Elastic Email ever sends one; UNCONFIRMED) may carry the same fields as form or JSON. */
function fieldsOfBody(req: RawRequest): Fields {
  if (req.method !== 'POST' || req.body.length === 0) return {};
  const text = req.body.toString('utf8');
  if (/json/i.test(req.headers['content-type'] ?? '') || /^\s*\{/.test(text)) {
    let body: unknown;
    try {
      body = parseJsonLossless(text);
    } catch (err) {
      throw new MalformedPayloadError('body is not valid JSON', { cause: err });
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new MalformedPayloadError('body is not a JSON object');
    }
    const fields: Fields = {};
    for (const [key, value] of Object.entries(body)) {
      if (typeof value === 'string' || typeof value === 'number') fields[key] = String(value);
    }
    return fields;
  }
  return fieldsOfQuery(text);
}

function value(fields: Fields, key: string): string | null {
  const found = fields[key];
  return found === undefined || found.trim() === '' ? null : found;
}

function resolveType(
  status: string,
  category: string | null,
): ErrorOutcome | { type: EmailEventType } | null {
  if (status !== 'error') {
    const type = STATUS_TYPES[status];
    return type ? { type } : null;
  }
  // An Error whose category is missing or new is still a failed delivery of unknown kind.
  return ERROR_CATEGORIES[(category ?? 'unknown').toLowerCase()] ?? ERROR_CATEGORIES.unknown ?? null;
}

function metadataOf(fields: Fields): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  // `postback`: the X-ElasticEmail-Postback header / API postback value the user set on the email.
  const postback = value(fields, 'postback');
  if (postback) metadata.postback = postback;
  // Parameters the user put in the notification URL themselves come back on every notification.
  for (const [key, v] of Object.entries(fields)) if (!KNOWN_FIELDS.has(key)) metadata[key] = v;
  return metadata;
}

/**
 * Elastic Email gives notifications no id. The dedup key is the documented identity of one
 * notification — transaction, message, recipient, status, event date — plus the clicked link (two
 * links clicked in the same second are two events), hashed to a fixed length.
 */
function dedupKeyOf(fields: Fields, status: string): string {
  const recipient = value(fields, 'to')?.trim().toLowerCase() ?? null;
  const parts = [
    value(fields, 'transaction'),
    value(fields, 'messageid'),
    recipient,
    status,
    value(fields, 'date'),
    status === 'clicked' ? value(fields, 'target') : null,
  ];
  return `elasticemail:${sha256Hex(JSON.stringify(parts))}`;
}

function parse(req: RawRequest): ParseResult {
  const fields = { ...fieldsOfQuery(req.query), ...fieldsOfBody(req) };
  const status = value(fields, 'status')?.trim().toLowerCase();
  if (!status) {
    // Elastic Email checks the URL answers 200 to a GET when it is saved: nothing to record.
    return { events: [], skipped: [{ index: 0, reason: 'Elastic Email request without a status' }] };
  }
  const category = value(fields, 'category');
  const resolved = resolveType(status, category);
  if (!resolved) {
    const reason = `Elastic Email status "${fields.status}" is not an email event mailhook maps`;
    return { events: [], skipped: [{ index: 0, reason }] };
  }
  const timestamp = parseEventDate(value(fields, 'date'));
  if (!timestamp) throw new MalformedPayloadError('"date" is missing or not a date');
  const recipient = value(fields, 'to')?.trim().toLowerCase() ?? null;
  const channel = value(fields, 'channel');
  const data: ParsedEvent['data'] = {
    provider_event_id: null,
    // The send API returns TransactionID (whole send) and MessageID (this email); prefer the latter.
    message_id: value(fields, 'messageid') ?? value(fields, 'transaction'),
    recipient,
    user_agent: null,
    ip: null,
    tags: channel ? [channel] : [],
    metadata: metadataOf(fields),
    raw: fields,
  };
  if ('bounce' in resolved) data.bounce = { type: resolved.bounce, code: null, reason: category };
  if (resolved.type === 'email.dropped') data.bounce = { type: 'undetermined', code: null, reason: category };
  if (resolved.type === 'email.clicked') data.click = { url: value(fields, 'target') };
  if (resolved.type === 'email.opened') data.open = { machine: false };
  if (resolved.type === 'email.unsubscribed') data.unsubscribe = { group: null };
  const event: ParsedEvent = { type: resolved.type, timestamp, dedupKey: dedupKeyOf(fields, status), data };
  return { events: [event], skipped: [] };
}

function notificationUrl(config: Record<string, unknown>, ingestUrl: string): string {
  if (typeof config.query_token !== 'string') return ingestUrl;
  const url = new URL(ingestUrl);
  url.searchParams.set(TOKEN_PARAM, '<query_token>');
  return url.toString().replace('%3Cquery_token%3E', '<query_token>');
}

function setup(source: Source, ingestUrl: string): string {
  const lines = [
    'In Elastic Email: Settings → Notifications (webhooks; Email API PRO / Marketing PRO plans).',
    `1. Notification URL: ${notificationUrl(source.config, ingestUrl)}`,
  ];
  if (typeof source.config.query_token === 'string') {
    lines.push("   (replace <query_token> with this source's config.query_token; keep it secret)");
  }
  if (source.config.basic_auth || source.config.header) {
    lines.push(...credentialSetup(source.config, ingestUrl).map((line) => `   ${line}`));
  }
  lines.push(
    '2. Notify on: Sent, Opened, Clicked, Unsubscribed, Complaints, Bounce/Error; save.',
    'Elastic Email calls the URL with GET and turns notifications off after 1000 failures; requests',
    'without the token or credentials are refused (401).',
  );
  return lines.join('\n');
}

export const elasticemail = {
  id: 'elasticemail',
  displayName: 'Elastic Email',
  acceptsGet: true,
  secretQueryParams: [TOKEN_PARAM],
  validateConfig,
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
