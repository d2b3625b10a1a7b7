import { MailhookError } from '../errors.js';
import { secureEqual } from '../secure-compare.js';

/**
 * The /metrics guard: with MAILHOOK_METRICS_TOKEN set, the request must carry exactly
 * `Authorization: Bearer <token>`. Compared in constant time, so the token cannot be guessed byte by
 * byte from response times.
 */
export function metricsAuthorized(authorization: string | undefined, token: string | null): boolean {
  if (!token) return true;
  return secureEqual(authorization ?? '', `Bearer ${token}`);
}

/** Throws the 401 the /metrics route answers with when `metricsAuthorized` is false. */
export function requireMetricsToken(authorization: string | undefined, token: string | null): void {
  if (!metricsAuthorized(authorization, token)) {
    throw new MailhookError('MH_ERR_UNAUTHORIZED', 'Send Authorization: Bearer <MAILHOOK_METRICS_TOKEN>');
  }
}
