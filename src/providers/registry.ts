import { MailhookError } from '../errors.js';
import { brevo } from './brevo.js';
import { elasticemail } from './elasticemail.js';
import { loops } from './loops.js';
import { mailersend } from './mailersend.js';
import { mailgun } from './mailgun.js';
import { mailjet } from './mailjet.js';
import { mandrill } from './mandrill.js';
import { postal } from './postal.js';
import { postmark } from './postmark.js';
import { resend } from './resend.js';
import { sendgrid } from './sendgrid.js';
import { ses } from './ses.js';
import { smtp2go } from './smtp2go.js';
import { sparkpost } from './sparkpost.js';
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
const ADAPTERS: readonly ProviderAdapter[] = [
  sendgrid,
  standard,
  postal,
  smtp2go,
  elasticemail,
  postmark,
  sparkpost,
  mailjet,
  brevo,
  mandrill,
  mailersend,
  resend,
  loops,
  ses,
  mailgun,
];

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
