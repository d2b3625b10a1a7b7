import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { GLOBAL_SCOPE, normalizeEmail, SUPPRESSION_REASONS, scopeOf } from '../pipeline/suppression-rules.js';
import type { SuppressionEntry } from '../store/store.js';
import type { ApiContext } from './context.js';
import { decodeCursor, encodeCursor, parseTime } from './cursor.js';

const EMAIL = { type: 'string', minLength: 3, maxLength: 320 } as const;

function entryView(e: SuppressionEntry) {
  return {
    email: e.email,
    scope: e.scope,
    reason: e.reason,
    detail: e.detail,
    event_id: e.eventId,
    source_id: e.sourceId,
    created_at: e.createdAt.toISOString(),
  };
}

/** Suppressed globally, or for the asked unsubscribe group. */
function isSuppressed(entries: SuppressionEntry[], group: string | undefined): boolean {
  const scopes = new Set([GLOBAL_SCOPE, ...(group ? [scopeOf(group)] : [])]);
  return entries.some((e) => scopes.has(e.scope));
}

function answer(email: string, entries: SuppressionEntry[], group: string | undefined) {
  return { email, suppressed: isSuppressed(entries, group), reasons: entries.map(entryView) };
}

function isCursor(value: unknown): value is [number, string, string, string] {
  return (
    Array.isArray(value) &&
    value.length === 4 &&
    Number.isSafeInteger(value[0]) &&
    value.slice(1).every((v) => typeof v === 'string')
  );
}

/**
 * One CSV cell. A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first: OWASP's "CSV
 * injection") is prefixed with a quote: a bounce reason comes from a remote mail server's reply, and
 * an address's local part may start with any of these.
 */
function csvCell(value: string | null): string {
  const raw = value ?? '';
  const text = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

type SuppressionPage = Awaited<ReturnType<ApiContext['store']['listSuppressions']>>;

const CSV_PAGE = 1000;

/**
 * The whole list, a page of 1,000 at a time, so memory stays flat however long it is. The first page
 * is read before the answer starts (a store that is down gets its 503); a failure on a later page can
 * only cut the download short, which the missing last line shows.
 */
async function* suppressionCsv(store: ApiContext['store'], first: SuppressionPage): AsyncGenerator<string> {
  yield 'email,scope,reason,detail,event_id,source_id,created_at\n';
  for (let page = first; ; ) {
    let chunk = '';
    for (const e of page.items) {
      chunk += `${[e.email, e.scope, e.reason, e.detail, e.eventId, e.sourceId, e.createdAt.toISOString()].map(csvCell).join(',')}\n`;
    }
    if (chunk) yield chunk;
    if (!page.next) return;
    page = await store.listSuppressions({ limit: CSV_PAGE, cursor: page.next });
  }
}

export async function suppressionRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, now } = ctx;

  /** One indexed lookup. `?group=` also counts that unsubscribe group's entries. */
  scope.get<{ Params: { email: string }; Querystring: { group?: string } }>(
    '/suppressions/:email',
    {
      schema: {
        params: { type: 'object', properties: { email: EMAIL }, required: ['email'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { group: { type: 'string', maxLength: 1000 } },
        },
      },
    },
    async (request) => {
      const email = normalizeEmail(request.params.email);
      return answer(email, await store.getSuppressions(email), request.query.group);
    },
  );

  scope.post<{ Body: { emails: string[]; group?: string } }>(
    '/suppressions/check',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['emails'],
          properties: {
            emails: { type: 'array', items: EMAIL, minItems: 1, maxItems: 1000 },
            group: { type: 'string', maxLength: 1000 },
          },
        },
      },
    },
    async (request) => {
      const emails = [...new Set(request.body.emails.map(normalizeEmail))];
      const found = await store.checkSuppressions(emails);
      return { data: emails.map((email) => answer(email, found.get(email) ?? [], request.body.group)) };
    },
  );

  scope.get<{
    Querystring: { reason?: string; scope?: string; since?: string; limit: number; cursor?: string };
  }>(
    '/suppressions',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            reason: { type: 'string', enum: [...SUPPRESSION_REASONS] },
            scope: { type: 'string', maxLength: 1010 },
            since: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            cursor: { type: 'string', maxLength: 1000 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const since = parseTime('since', q.since);
      const page = await store.listSuppressions({
        limit: q.limit,
        ...(q.reason && { reason: q.reason }),
        // A long group's scope is stored by its hash (field-limits.ts): `group:<name>` finds it either way.
        ...(q.scope && { scope: q.scope.startsWith('group:') ? scopeOf(q.scope.slice(6)) : q.scope }),
        ...(since && { since }),
        ...(q.cursor && { cursor: decodeCursor(q.cursor, isCursor) }),
      });
      return { data: page.items.map(entryView), next_cursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  /** The whole list as CSV, streamed page by page. */
  scope.get('/suppressions.csv', async (_request, reply) =>
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="suppressions.csv"')
      .send(Readable.from(suppressionCsv(store, await store.listSuppressions({ limit: CSV_PAGE })))),
  );

  scope.post<{ Body: { email: string; group?: string; detail?: string } }>(
    '/suppressions',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['email'],
          properties: {
            email: EMAIL,
            group: { type: 'string', minLength: 1, maxLength: 1000 },
            detail: { type: 'string', maxLength: 1000 },
          },
        },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      if (!email.includes('@')) throw new MailhookError('MH_ERR_VALIDATION', 'email must be an address');
      await store.addSuppression({
        email,
        scope: scopeOf(request.body.group),
        reason: 'manual',
        detail: request.body.detail ?? null,
        eventId: null,
        sourceId: null,
        createdAt: now(),
      });
      return reply.code(201).send(answer(email, await store.getSuppressions(email), request.body.group));
    },
  );

  /** Removes an address's entries: all, or one scope (`?group=`) and/or reason. */
  scope.delete<{ Params: { email: string }; Querystring: { group?: string; reason?: string } }>(
    '/suppressions/:email',
    {
      schema: {
        params: { type: 'object', properties: { email: EMAIL }, required: ['email'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            group: { type: 'string', maxLength: 1000 },
            reason: { type: 'string', enum: [...SUPPRESSION_REASONS] },
          },
        },
      },
    },
    async (request) => {
      const email = normalizeEmail(request.params.email);
      const removed = await store.removeSuppressions(email, {
        ...(request.query.group && { scope: scopeOf(request.query.group) }),
        ...(request.query.reason && { reason: request.query.reason }),
      });
      return { removed, ...answer(email, await store.getSuppressions(email), request.query.group) };
    },
  );
}
