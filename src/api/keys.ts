import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import type { ApiKeyRecord } from '../store/store.js';
import { generateApiKey, hashApiKey } from './auth.js';
import type { ApiContext } from './context.js';

/**
 * API keys. A key is shown once, when it is created; only its SHA-256 is stored, so a lost key
 * cannot be recovered, only revoked and replaced. Every key has the same (admin) rights.
 */

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const revokeQuery = {
  type: 'object',
  properties: {
    confirm: {
      type: 'string',
      enum: ['self'],
      description: 'Required to revoke the key the request is made with',
    },
  },
} as const;

/** The hash of the key this request authenticated with (the auth hook has checked it already). */
function callerHash(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1] ? hashApiKey(match[1]) : null;
}

function keyView(key: ApiKeyRecord, current: string | null) {
  return {
    id: key.id,
    name: key.name,
    created_at: key.createdAt.toISOString(),
    current: key.hash === current,
  };
}

export async function keyRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store, now } = ctx;

  scope.post<{ Body: { name: string } }>(
    '/keys',
    { schema: { body: createBody } },
    async (request, reply) => {
      const key = generateApiKey();
      const record: ApiKeyRecord = {
        id: newId('apiKey'),
        name: request.body.name,
        hash: hashApiKey(key),
        createdAt: now(),
      };
      await store.addApiKey(record);
      // The only time the plaintext key leaves the server.
      return reply.code(201).send({ ...keyView(record, null), key });
    },
  );

  scope.get('/keys', async (request) => {
    const current = callerHash(request);
    return { data: (await store.listApiKeys()).map((key) => keyView(key, current)) };
  });

  /**
   * Revokes a key; it is refused from the next request on, on every node (the auth hook looks every
   * key up). The last active key cannot be revoked: nobody could manage the server afterwards. The key the request itself is made with is revoked only with
   * `?confirm=self`: one mistyped id should not lock the caller out.
   */
  scope.delete<{ Params: { id: string }; Querystring: { confirm?: 'self' } }>(
    '/keys/:id',
    {
      schema: {
        params: idParams,
        querystring: revokeQuery,
        summary: 'Revoke an API key',
        description:
          'Revoking the key the request is made with needs ?confirm=self (otherwise 400 MH_ERR_VALIDATION). ' +
          'The last active key cannot be revoked.',
      },
    },
    async (request, reply) => {
      if (request.query.confirm !== 'self') {
        const keys = await store.listApiKeys();
        const target = keys.find((key) => key.id === request.params.id);
        // With one key left the answer is the last-key rule below, which no confirmation lifts.
        if (target && keys.length > 1 && target.hash === callerHash(request)) {
          throw new MailhookError(
            'MH_ERR_VALIDATION',
            'This is the API key the request is made with: revoking it ends your access. Add ?confirm=self to revoke it anyway',
          );
        }
      }
      const result = await store.revokeApiKey(request.params.id, now());
      if (result === 'not_found') throw new MailhookError('MH_ERR_NOT_FOUND', 'No such API key');
      if (result === 'last') {
        throw new MailhookError('MH_ERR_VALIDATION', 'The last active API key cannot be revoked');
      }
      return reply.code(204).send();
    },
  );
}
