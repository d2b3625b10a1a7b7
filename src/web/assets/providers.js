// What each provider's source needs in `config`, for the "add a source" form. The server validates
// for real (POST /v1/sources); this table only decides which fields to show. Keep it in step with
// the README's provider table.

import { field, h } from './dom.js';

const secret = (label = 'Signing secret', hint = 'whsec_… as the sender shows it') => ({
  key: 'secret',
  label,
  placeholder: 'whsec_…',
  hint,
});

/** Credential-only providers sign nothing: basic auth and/or a secret header authenticate them. */
const CREDENTIALS = { credentials: true };

export const PROVIDERS = [
  {
    id: 'sendgrid',
    name: 'SendGrid',
    fields: [
      {
        key: 'public_key',
        label: 'Verification key',
        optional: true,
        placeholder: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…',
        hint: 'Shown by SendGrid once Signed Event Webhook is on; can be added after creating the source.',
      },
    ],
  },
  { id: 'mailgun', name: 'Mailgun', fields: [{ key: 'signing_key', label: 'HTTP webhook signing key' }] },
  {
    id: 'ses',
    name: 'Amazon SES (via SNS)',
    fields: [
      {
        key: 'topic_arn',
        label: 'SNS topic ARN',
        optional: true,
        placeholder: 'arn:aws:sns:us-east-1:123456789012:ses-events',
        hint: 'Recommended: only notifications from this topic are accepted.',
      },
    ],
  },
  { id: 'postmark', name: 'Postmark', ...CREDENTIALS },
  { id: 'sparkpost', name: 'SparkPost', ...CREDENTIALS },
  { id: 'mailjet', name: 'Mailjet', ...CREDENTIALS },
  { id: 'brevo', name: 'Brevo', ...CREDENTIALS },
  { id: 'resend', name: 'Resend', fields: [secret('Signing secret', 'whsec_… from Resend → Webhooks')] },
  { id: 'loops', name: 'Loops', fields: [secret('Signing secret', 'whsec_… from Loops → Webhooks')] },
  {
    id: 'mandrill',
    name: 'Mandrill (Mailchimp Transactional)',
    fields: [
      {
        key: 'webhook_key',
        label: 'Webhook key',
        optional: true,
        hint: 'Mandrill shows it once the webhook exists; can be added later.',
      },
      {
        key: 'url',
        label: 'Webhook URL as entered in Mandrill',
        optional: true,
        hint: 'Only if it differs from the ingest URL (a proxy in front of mailhook).',
      },
    ],
  },
  { id: 'mailersend', name: 'MailerSend', fields: [{ key: 'signing_secret', label: 'Signing secret' }] },
  {
    id: 'postal',
    name: 'Postal',
    fields: [{ key: 'public_key', label: 'Public key (PEM or base64)', multiline: true }],
  },
  { id: 'smtp2go', name: 'SMTP2GO', ...CREDENTIALS },
  {
    id: 'elasticemail',
    name: 'Elastic Email',
    ...CREDENTIALS,
    fields: [
      {
        key: 'query_token',
        label: 'Query token',
        optional: true,
        hint: 'A secret of 16+ URL-safe characters added to the notification URL (Elastic Email notifies by GET).',
      },
    ],
  },
  {
    id: 'standard',
    name: 'Standard Webhooks (any signed sender)',
    fields: [secret('Signing secret', 'whsec_… shared with the sender; "Generate" makes a new one.')],
    generate: true,
  },
];

export function providerById(id) {
  return PROVIDERS.find((p) => p.id === id);
}

/** A new `whsec_` secret (24 random bytes), made in the browser. */
export function generateSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The `config` object from the form's values; empty optional fields are left out. For credential-only
 * providers, basic auth and the header are each included when filled in.
 */
export function configFrom(provider, values) {
  const config = {};
  for (const f of provider.fields ?? []) {
    if (values[f.key]) config[f.key] = values[f.key];
  }
  if (provider.credentials) {
    if (values.basic_username || values.basic_password)
      config.basic_auth = { username: values.basic_username, password: values.basic_password };
    if (values.header_name || values.header_value)
      config.header = { name: values.header_name, value: values.header_value };
  }
  return config;
}

/** The form controls for a provider's config keys (names match `configFrom`). */
export function configFields(provider) {
  const controls = [];
  for (const f of provider.fields ?? []) {
    const control = f.multiline
      ? h('textarea', { name: f.key, rows: 4, required: !f.optional, spellcheck: 'false' })
      : h('input', {
          name: f.key,
          type: 'text',
          required: !f.optional,
          placeholder: f.placeholder,
          autocomplete: 'off',
          spellcheck: 'false',
        });
    const label = `${f.label} (config.${f.key})${f.optional ? ', optional' : ''}`;
    const row = field(label, control, f.hint);
    if (provider.generate && f.key === 'secret') {
      row.append(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () => {
              control.value = generateSecret();
            },
          },
          'Generate',
        ),
      );
    }
    controls.push(row);
  }
  if (provider.credentials) {
    controls.push(
      h(
        'fieldset',
        null,
        h('legend', null, 'Basic auth (config.basic_auth)'),
        h('p', { class: 'hint' }, `${provider.name} signs nothing: give basic auth and/or a secret header.`),
        field('Username', h('input', { name: 'basic_username', autocomplete: 'off' })),
        field(
          'Password',
          h('input', {
            name: 'basic_password',
            type: 'password',
            autocomplete: 'new-password',
            minlength: 12,
          }),
          'At least 12 characters.',
        ),
      ),
      h(
        'fieldset',
        null,
        h('legend', null, 'Secret header (config.header)'),
        field(
          'Header name',
          h('input', { name: 'header_name', autocomplete: 'off', placeholder: 'x-webhook-token' }),
        ),
        field(
          'Header value',
          h('input', { name: 'header_value', type: 'password', autocomplete: 'new-password', minlength: 16 }),
          'At least 16 characters.',
        ),
      ),
    );
  }
  return controls;
}
