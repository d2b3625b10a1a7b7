import type { Source } from './types.js';

/**
 * The setup step for a credential a provider shows only once its webhook exists, so that a source is
 * often created without it. Setup texts are built from the source's current config each time they are
 * shown: while the credential is missing the step says how to set it; once it is set, it says so and
 * the text ends with what to do next, instead of asking again for what is already there.
 */
export interface CredentialStep {
  /** The step's number in the provider's list. */
  step: number;
  /** The provider as its users name it, e.g. `SendGrid`. */
  provider: string;
  /** The config key, e.g. `public_key`. */
  key: string;
  /** Where the value comes from, as the provider names it, e.g. `the Verification Key SendGrid then shows`. */
  copy: string;
  /** A placeholder of the value's shape for the PATCH example, e.g. `MFkw…`. */
  example: string;
}

export function hasCredential(source: Source, key: string): boolean {
  const value = source.config[key];
  return typeof value === 'string' && value !== '';
}

export function credentialStep(source: Source, step: CredentialStep): string[] {
  const patch = `PATCH /v1/sources/${source.id} {"config": {"${step.key}": "${step.example}"}}`;
  if (!hasCredential(source, step.key)) {
    return [
      `${step.step}. Copy ${step.copy} and set it as this source's config.${step.key}`,
      `   (${patch}); until then every post is refused (401).`,
    ];
  }
  return [
    `${step.step}. Done: config.${step.key} is set. If ${step.provider} shows a new one (the webhook was`,
    `   recreated), replace it: ${patch}.`,
  ];
}

/** The closing line once the credential is set: how to see the first events arrive. */
export function nextStep(source: Source, key: string, test: string): string[] {
  if (!hasCredential(source, key)) return [];
  return [`Next: ${test}, then watch the events arrive: mailhook events tail --source ${source.id}`];
}
