import { brevoSimulator } from './providers/brevo.js';
import { elasticemailSimulator } from './providers/elasticemail.js';
import { loopsSimulator } from './providers/loops.js';
import { mailersendSimulator } from './providers/mailersend.js';
import { mailgunSimulator } from './providers/mailgun.js';
import { mailjetSimulator } from './providers/mailjet.js';
import { mandrillSimulator } from './providers/mandrill.js';
import { postalSimulator } from './providers/postal.js';
import { postmarkSimulator } from './providers/postmark.js';
import { resendSimulator } from './providers/resend.js';
import { sendgridSimulator } from './providers/sendgrid.js';
import { sesSimulator } from './providers/ses.js';
import { smtp2goSimulator } from './providers/smtp2go.js';
import { sparkpostSimulator } from './providers/sparkpost.js';
import { standardSimulator } from './providers/standard.js';
import type { AnySimulator } from './types.js';

/** One simulator per provider of src/providers/registry.ts (a unit test keeps the two lists equal). */
export const SIMULATORS: readonly AnySimulator[] = [
  sendgridSimulator,
  mailgunSimulator,
  sesSimulator,
  postmarkSimulator,
  sparkpostSimulator,
  mailjetSimulator,
  brevoSimulator,
  resendSimulator,
  loopsSimulator,
  mandrillSimulator,
  mailersendSimulator,
  postalSimulator,
  smtp2goSimulator,
  elasticemailSimulator,
  standardSimulator,
];

export function findSimulator(id: string): AnySimulator | undefined {
  return SIMULATORS.find((s) => s.id === id);
}
