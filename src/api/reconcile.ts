import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { newReconcileJob } from '../reconcile/job.js';
import { findReader } from '../reconcile/registry.js';
import { readerConfigOf } from '../reconcile/source-config.js';
import type { ReconcileJob } from '../store/reconcile-types.js';
import type { ApiContext } from './context.js';
import { parseTime } from './cursor.js';

const sourceParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const jobParams = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 100 },
    jobId: { type: 'string', minLength: 1, maxLength: 100 },
  },
  required: ['id', 'jobId'],
} as const;

const reconcileBody = {
  type: 'object',
  additionalProperties: false,
  required: ['since'],
  properties: {
    since: { type: 'string', minLength: 1, maxLength: 40 },
    until: { type: 'string', minLength: 1, maxLength: 40 },
  },
} as const;

export function reconciliationView(job: ReconcileJob) {
  return {
    id: job.id,
    source_id: job.sourceId,
    trigger: job.trigger,
    status: job.status,
    since: job.since.toISOString(),
    until: job.until.toISOString(),
    pages: job.pages,
    found: job.found,
    new: job.new,
    duplicates: job.duplicates,
    skipped: job.skipped,
    ...(job.error !== null && { error: job.error }),
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

/** `POST /v1/sources/:id/reconcile` and the jobs it starts (src/reconcile/). */
export async function reconcileRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, now } = ctx;

  scope.post<{ Params: { id: string }; Body: { since: string; until?: string } }>(
    '/sources/:id/reconcile',
    { schema: { params: sourceParams, body: reconcileBody } },
    async (request, reply) => {
      const source = await store.getSource(request.params.id);
      if (!source) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      const reader = findReader(source.provider);
      if (!reader)
        throw new MailhookError(
          'MH_ERR_RECONCILE_UNSUPPORTED',
          `${source.provider} has no event API mailhook can read; its events can only arrive by webhook`,
        );
      if (!readerConfigOf(source.provider, source.config))
        throw new MailhookError('MH_ERR_RECONCILE_NOT_CONFIGURED');
      const time = now();
      const requested = parseTime('since', request.body.since) as Date;
      const until = parseTime('until', request.body.until) ?? time;
      if (until <= requested) throw new MailhookError('MH_ERR_VALIDATION', 'until must be after since');
      // The provider's API keeps only so much: the run (and its view) starts where the API's data does.
      const job = newReconcileJob(
        reader,
        { sourceId: source.id, trigger: 'api', since: requested, until },
        time,
      );
      if (!job)
        throw new MailhookError(
          'MH_ERR_VALIDATION',
          `${source.provider}'s API keeps events for ${Math.round(reader.retentionMs / 86_400_000)} days: the range is older than that`,
        );
      const result = await store.createReconciliation(job);
      if (!result.created)
        throw new MailhookError(
          'MH_ERR_RECONCILE_RUNNING',
          `reconciliation ${result.running.id} of this source is running; follow it at GET /v1/sources/${source.id}/reconciliations/${result.running.id}`,
        );
      ctx.wakeReconcile?.();
      return reply.code(202).send(reconciliationView(job));
    },
  );

  scope.get<{ Params: { id: string } }>(
    '/sources/:id/reconciliations',
    { schema: { params: sourceParams } },
    async (request) => {
      const source = await store.getSource(request.params.id);
      if (!source) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      return { data: (await store.listReconciliations(source.id, 50)).map(reconciliationView) };
    },
  );

  scope.get<{ Params: { id: string; jobId: string } }>(
    '/sources/:id/reconciliations/:jobId',
    { schema: { params: jobParams } },
    async (request) => {
      const job = await store.getReconciliation(request.params.jobId);
      if (!job || job.sourceId !== request.params.id)
        throw new MailhookError('MH_ERR_RECONCILIATION_NOT_FOUND');
      return reconciliationView(job);
    },
  );
}
