import { MailhookError } from '../errors.js';
import { sendgrid } from './sendgrid.js';
import { standard } from './standard.js';
import type { ProviderAdapter } from './types.js';

export type {
  ParseResult,
  ProviderAdapter,
  RawRequest,
  Source,
  Verification,
  VerifyContext,
} from './types.js';

/** The only list of providers: everything else looks adapters up here. */
const ADAPTERS: readonly ProviderAdapter[] = [sendgrid, standard];

const BY_ID = new Map(ADAPTERS.map((adapter) => [adapter.id, adapter]));

export function providerIds(): string[] {
  return ADAPTERS.map((adapter) => adapter.id);
}

export function findAdapter(id: string): ProviderAdapter | undefined {
  return BY_ID.get(id);
}

export function getAdapter(id: string): ProviderAdapter {
  const adapter = BY_ID.get(id);
  if (!adapter) {
    throw new MailhookError(
      'MH_ERR_UNKNOWN_PROVIDER',
      `Unknown provider "${id}"; supported: ${providerIds().join(', ')}`,
    );
  }
  return adapter;
}
