import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import { getAdapter } from '../providers/registry.js';
import { validateSourceConfig } from '../reconcile/source-config.js';
import type { SourceRecord } from '../store/store.js';
import type { ApiContext } from './context.js';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'provider'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    provider: { type: 'string', minLength: 1, maxLength: 50 },
    config: { type: 'object' },
    enabled: { type: 'boolean' },
  },
} as const;

const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    config: { type: 'object' },
    enabled: { type: 'boolean' },
  },
} as const;

interface CreateBody {
  name: string;
  provider: string;
  config?: Record<string, unknown>;
  enabled?: boolean;
}

type PatchBody = Partial<Omit<CreateBody, 'provider'>>;

export function ingestUrlOf(publicUrl: string, sourceId: string): string {
  return `${publicUrl}/ingest/${sourceId}`;
}

/** The public view of a source: `config` holds credentials and is never returned. */
export function sourceView(source: SourceRecord, publicUrl: string) {
  const ingestUrl = ingestUrlOf(publicUrl, source.id);
  return {
    id: source.id,
    name: source.name,
    provider: source.provider,
    enabled: source.enabled,
    ingest_url: ingestUrl,
    setup: getAdapter(source.provider).setup(source, ingestUrl),
    config_keys: Object.keys(source.config).sort(),
    state: source.state,
    created_at: source.createdAt.toISOString(),
    updated_at: source.updatedAt.toISOString(),
  };
}

export async function sourceRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, sources, now } = ctx;
  const view = (source: SourceRecord) => sourceView(source, ctx.publicUrl());

  scope.post<{ Body: CreateBody }>('/sources', { schema: { body: createBody } }, async (request, reply) => {
    const { name, provider, enabled } = request.body;
    const adapter = getAdapter(provider);
    const time = now();
    const source: SourceRecord = {
      id: newId('source'),
      name,
      provider: adapter.id,
      config: validateSourceConfig(adapter.id, request.body.config ?? {}),
      enabled: enabled ?? true,
      state: {},
      createdAt: time,
      updatedAt: time,
    };
    await store.createSource(source);
    sources.invalidate(source.id);
    return reply.code(201).send(view(source));
  });

  scope.get('/sources', async () => ({ data: (await store.listSources()).map(view) }));

  scope.get<{ Params: { id: string } }>('/sources/:id', { schema: { params: idParams } }, async (request) => {
    const source = await store.getSource(request.params.id);
    if (!source) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
    return view(source);
  });

  scope.patch<{ Params: { id: string }; Body: PatchBody }>(
    '/sources/:id',
    { schema: { params: idParams, body: patchBody } },
    async (request) => {
      const existing = await store.getSource(request.params.id);
      if (!existing) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      const { name, enabled } = request.body;
      const patch = {
        ...(name !== undefined && { name }),
        ...(enabled !== undefined && { enabled }),
        ...(request.body.config !== undefined && {
          config: validateSourceConfig(existing.provider, request.body.config),
        }),
      };
      const updated = await store.updateSource(existing.id, patch, now());
      sources.invalidate(existing.id);
      if (!updated) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      return view(updated);
    },
  );

  scope.delete<{ Params: { id: string } }>(
    '/sources/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const deleted = await store.deleteSource(request.params.id, now());
      sources.invalidate(request.params.id);
      if (!deleted) throw new MailhookError('MH_ERR_SOURCE_NOT_FOUND');
      return reply.code(204).send();
    },
  );
}
