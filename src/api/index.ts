import type { FastifyInstance } from 'fastify';
import { containsNul } from '../nul.js';
import { requireApiKey } from './auth.js';
import type { ApiContext } from './context.js';
import { deliveryRoutes } from './deliveries.js';
import { endpointRoutes } from './endpoints.js';
import { eventRoutes } from './events.js';
import { historyRoutes } from './history.js';
import { inboxRoutes } from './inbox.js';
import { keyRoutes } from './keys.js';
import { messageRoutes } from './messages.js';
import { publishRoutes } from './publish.js';
import { reconcileRoutes } from './reconcile.js';
import { sourceRoutes } from './sources.js';
import { statsRoutes } from './stats.js';
import { streamRoutes } from './stream.js';
import { suppressionRoutes } from './suppressions.js';

export { ensureAdminKey, generateApiKey, hashApiKey } from './auth.js';
export type { ApiContext } from './context.js';

function nulRefused(where: string): Error {
  return Object.assign(new Error(`${where} must not contain the NUL character (U+0000)`), {
    statusCode: 400,
  });
}

/** The `/v1` scope: JSON in and out, and an API key on every route. */
export async function apiRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  requireApiKey(scope, ctx.store);
  // An empty body with a JSON content type (common from HTTP clients on action routes such as
  // /pause) means "no body", not a syntax error.
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      done(
        Object.assign(new Error(`body is not valid JSON: ${(err as Error).message}`), { statusCode: 400 }),
        undefined,
      );
      return;
    }
    if (text.includes('u0000') && containsNul(parsed)) return done(nulRefused('the body'), undefined);
    done(null, parsed);
  });
  // PostgreSQL cannot store or compare U+0000 (see nul.ts): refused here with a clear 400 rather
  // than failing in the store with a 500.
  scope.addHook('onRequest', async (request) => {
    if (request.url.includes('%00')) throw nulRefused('the URL');
  });
  // Route modules are plain functions on this scope so they share its auth hook and prefix.
  await sourceRoutes(scope, ctx);
  await reconcileRoutes(scope, ctx);
  await eventRoutes(scope, ctx);
  await inboxRoutes(scope, ctx);
  await endpointRoutes(scope, ctx);
  await deliveryRoutes(scope, ctx);
  await suppressionRoutes(scope, ctx);
  await messageRoutes(scope, ctx);
  await statsRoutes(scope, ctx);
  await streamRoutes(scope, ctx);
  await publishRoutes(scope, ctx);
  await historyRoutes(scope, ctx);
  await keyRoutes(scope, ctx);
}
