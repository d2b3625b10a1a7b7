import type { FastifyInstance } from 'fastify';
import { requireApiKey } from './auth.js';
import type { ApiContext } from './context.js';
import { deliveryRoutes } from './deliveries.js';
import { endpointRoutes } from './endpoints.js';
import { eventRoutes } from './events.js';
import { inboxRoutes } from './inbox.js';
import { sourceRoutes } from './sources.js';

export { ensureAdminKey, generateApiKey, hashApiKey } from './auth.js';
export type { ApiContext } from './context.js';

/** The `/v1` scope: JSON in and out, and an API key on every route. */
export async function apiRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  requireApiKey(scope, ctx.store);
  // Route modules are plain functions on this scope so they share its auth hook and prefix.
  await sourceRoutes(scope, ctx);
  await eventRoutes(scope, ctx);
  await inboxRoutes(scope, ctx);
  await endpointRoutes(scope, ctx);
  await deliveryRoutes(scope, ctx);
}
