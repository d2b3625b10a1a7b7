import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { INBOX_STATUSES, type InboxRow, type RequeueSelector } from '../store/store.js';
import type { ApiContext } from './context.js';
import { idCursor, parseTime } from './cursor.js';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...INBOX_STATUSES] },
    source_id: { type: 'string', minLength: 1, maxLength: 100 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 100 },
  },
} as const;

const reprocessBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    ids: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 100 },
      minItems: 1,
      maxItems: 1000,
    },
    status: { type: 'string', enum: ['quarantined', 'processed'] },
    source_id: { type: 'string', minLength: 1, maxLength: 100 },
    since: { type: 'string' },
    until: { type: 'string' },
  },
} as const;

interface ListQuery {
  status?: InboxRow['status'];
  source_id?: string;
  limit: number;
  cursor?: string;
}

interface ReprocessBody {
  ids?: string[];
  status?: 'quarantined' | 'processed';
  source_id?: string;
  since?: string;
  until?: string;
}

function rowView(row: InboxRow) {
  return {
    id: row.id,
    source_id: row.sourceId,
    provider: row.provider,
    status: row.status,
    received_at: row.receivedAt.toISOString(),
    processed_at: row.processedAt?.toISOString() ?? null,
    attempts: row.attempts,
    error: row.error,
    notes: row.notes,
    event_count: row.eventCount,
    duplicate_count: row.duplicateCount,
    size: row.body.length,
  };
}

function bodyView(body: Buffer): { body: string; body_encoding: 'utf8' | 'base64' } {
  const text = body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(body)
    ? { body: text, body_encoding: 'utf8' }
    : { body: body.toString('base64'), body_encoding: 'base64' };
}

export async function inboxRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store } = ctx;

  scope.get<{ Querystring: ListQuery }>('/inbox', { schema: { querystring: listQuery } }, async (request) => {
    const { status, source_id: sourceId, limit, cursor } = request.query;
    const page = await store.listInbox({
      limit,
      ...(status && { status }),
      ...(sourceId && { sourceId }),
      ...(cursor && { cursor: idCursor(cursor, 'inbox') }),
    });
    return { data: page.items.map(rowView), next_cursor: page.next };
  });

  scope.get<{ Params: { id: string } }>('/inbox/:id', { schema: { params: idParams } }, async (request) => {
    const row = await store.getInboxRow(request.params.id);
    if (!row) throw new MailhookError('MH_ERR_INBOX_ROW_NOT_FOUND');
    return {
      ...rowView(row),
      method: row.method,
      path: row.path,
      query: row.query,
      headers: row.headers,
      ...bodyView(row.body),
    };
  });

  /** Runs the pipeline again over stored rows (by default the quarantined ones) after a fix. */
  scope.post<{ Body: ReprocessBody }>(
    '/inbox/reprocess',
    { schema: { body: reprocessBody } },
    async (request, reply) => {
      const body = request.body ?? {};
      const since = parseTime('since', body.since);
      const until = parseTime('until', body.until);
      const selector: RequeueSelector = {
        ...(body.ids && { ids: body.ids }),
        ...(body.source_id && { sourceId: body.source_id }),
        ...(since && { since }),
        ...(until && { until }),
      };
      const status = body.status ?? (body.ids ? undefined : 'quarantined');
      if (status) selector.status = status;
      const requeued = await store.requeueInbox(selector);
      if (requeued > 0) ctx.wakePipeline();
      return reply.code(202).send({ requeued });
    },
  );
}
