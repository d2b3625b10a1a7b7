import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { newId } from '../ids.js';
import { sha256Hex } from '../providers/crypto.js';
import type { Store } from '../store/store.js';

export const API_KEY_PREFIX = 'mh_';

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/** Keys are long random strings, so a fast hash is enough; only the hash is stored. */
export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

export interface AdminKeyResult {
  /** The key to print once, when one was generated now. */
  generated: string | null;
  /** MAILHOOK_API_KEY was revoked through the API: it stays revoked, and authenticates nothing. */
  configuredRevoked: boolean;
}

/**
 * `MAILHOOK_API_KEY` is registered (by hash) when given; otherwise, on the first start of an empty
 * store, a key is generated and returned to be printed once.
 */
export async function ensureAdminKey(
  store: Store,
  configured: string | null,
  now = new Date(),
): Promise<AdminKeyResult> {
  if (configured) {
    const hash = hashApiKey(configured);
    await store.addApiKey({ id: newId('apiKey'), name: 'MAILHOOK_API_KEY', hash, createdAt: now });
    return { generated: null, configuredRevoked: (await store.findApiKeyByHash(hash)) === null };
  }
  const key = generateApiKey();
  const added = await store.addFirstApiKey({
    id: newId('apiKey'),
    name: 'generated admin key',
    hash: hashApiKey(key),
    createdAt: now,
  });
  return { generated: added ? key : null, configuredRevoked: false };
}

export function requireApiKey(scope: FastifyInstance, store: Store): void {
  scope.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new MailhookError('MH_ERR_UNAUTHORIZED', 'Send Authorization: Bearer <api key>');
    // One indexed lookup per call, no cache: a revoked key stops working at once, on every node.
    if (!(await store.findApiKeyByHash(hashApiKey(match[1])))) throw new MailhookError('MH_ERR_UNAUTHORIZED');
  });
}
