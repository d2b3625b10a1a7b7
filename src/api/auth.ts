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
    await store.addApiKey({
      id: newId('apiKey'),
      name: 'MAILHOOK_API_KEY',
      hash: hashApiKey(configured),
      createdAt: now,
    });
    return { generated: null };
  }
  if ((await store.countApiKeys()) > 0) return { generated: null };
  const key = generateApiKey();
  await store.addApiKey({
    id: newId('apiKey'),
    name: 'generated admin key',
    hash: hashApiKey(key),
    createdAt: now,
  });
  return { generated: key };
}

const CACHE_MS = 5000;

/** Every route registered in the scope this hook is added to requires `Authorization: Bearer <key>`. */
export function requireApiKey(scope: FastifyInstance, store: Store): void {
  const cache = new Map<string, number>();
  scope.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new MailhookError('MH_ERR_UNAUTHORIZED', 'Send Authorization: Bearer <api key>');
    const hash = hashApiKey(match[1]);
    const now = Date.now();
    if ((cache.get(hash) ?? 0) > now) return;
    if (!(await store.findApiKeyByHash(hash))) throw new MailhookError('MH_ERR_UNAUTHORIZED');
    if (cache.size > 1000) cache.clear();
    cache.set(hash, now + CACHE_MS);
  });
}
