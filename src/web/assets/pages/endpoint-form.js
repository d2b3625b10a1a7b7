// The endpoint form, for adding and editing: URL, description, event types, filter, custom headers,
// rate limit and concurrency. Returns the body for POST or PATCH /v1/endpoints.

import { api } from '../api.js';
import { act, field, h } from '../dom.js';
import { EMAIL_TYPES } from './shared.js';

function headersText(headers) {
  return Object.entries(headers ?? {})
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
}

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`Header line "${line}" has no "name: value"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * `endpoint` (for editing) pre-fills the form. `onSubmit(body)` gets the API body. The API shows
 * custom header names only (every value is [redacted]): on edit the headers are sent only when
 * changed, and "Reveal values" fetches the real ones (GET /v1/endpoints/:id/headers) to edit them.
 */
export function endpointForm({ endpoint, submitLabel, onSubmit }) {
  const types = endpoint?.event_types ?? [];
  const custom = types.filter((t) => !EMAIL_TYPES.includes(t));
  const url = h('input', {
    name: 'url',
    type: 'url',
    required: true,
    value: endpoint?.url ?? '',
    placeholder: 'https://crm.example.com/hooks/email',
  });
  const description = h('input', {
    name: 'description',
    type: 'text',
    value: endpoint?.description ?? '',
    maxlength: 1000,
  });
  const checks = EMAIL_TYPES.map((t) =>
    h(
      'label',
      null,
      h('input', { type: 'checkbox', name: 'event_types', value: t, checked: types.includes(t) }),
      t,
    ),
  );
  const other = h('input', {
    name: 'other_types',
    type: 'text',
    value: custom.join(', '),
    placeholder: 'email.*, invoice.paid',
  });
  const filter = h('textarea', {
    name: 'filter',
    rows: 3,
    spellcheck: 'false',
    placeholder:
      '{"metadata": {"tenant": "acme"}, "tags": ["welcome"], "recipient_domains": ["example.com"]}',
    value: endpoint?.filter ? JSON.stringify(endpoint.filter, null, 2) : '',
  });
  const headers = h('textarea', {
    name: 'headers',
    rows: 2,
    spellcheck: 'false',
    placeholder: 'x-tenant: acme',
    value: headersText(endpoint?.headers),
  });
  // What the headers text started as: masked, or the real values once revealed.
  let headersBaseline = headersText(endpoint?.headers);
  const hasHeaders = Object.keys(endpoint?.headers ?? {}).length > 0;
  const revealHeaders = hasHeaders ? h('button', { type: 'button' }, 'Reveal values') : null;
  revealHeaders?.addEventListener('click', async () => {
    const result = await act(revealHeaders, () =>
      api(`/endpoints/${encodeURIComponent(endpoint.id)}/headers`),
    );
    if (!result) return;
    headersBaseline = headersText(result.headers);
    headers.value = headersBaseline;
    revealHeaders.hidden = true;
  });
  const rate = h('input', {
    name: 'rate_limit',
    type: 'number',
    min: 0,
    step: 'any',
    value: endpoint?.rate_limit ?? '',
  });
  const concurrency = h('input', {
    name: 'max_concurrency',
    type: 'number',
    min: 1,
    max: 1000,
    value: endpoint?.max_concurrency ?? '',
  });
  const paused = endpoint
    ? null
    : h('label', null, h('input', { type: 'checkbox', name: 'paused' }), ' Start paused');
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);

  const form = h(
    'form',
    { 'aria-label': submitLabel },
    field('URL', url, 'Where deliveries are POSTed, signed with Standard Webhooks.'),
    field('Description', description),
    h(
      'fieldset',
      null,
      h('legend', null, 'Event types'),
      h('p', { class: 'hint' }, 'None checked and no others = every event.'),
      h('div', { class: 'checks' }, checks),
      field('Other types or wildcards (comma separated)', other),
    ),
    field(
      'Filter (JSON, optional)',
      filter,
      'Every clause must hold: metadata (exact values), tags (all of them), recipient_domains (any of them).',
    ),
    field(
      'Custom headers (one "name: value" per line)',
      headers,
      hasHeaders
        ? 'Values are hidden ([redacted]): reveal them to edit, or leave the headers unchanged.'
        : undefined,
    ),
    revealHeaders,
    h(
      'div',
      { class: 'filters' },
      field('Rate limit (per second)', rate),
      field('Max concurrency', concurrency),
    ),
    paused,
    error,
    h('div', { class: 'actions' }, submit),
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    let body;
    try {
      const chosen = checks
        .map((l) => l.querySelector('input'))
        .filter((c) => c.checked)
        .map((c) => c.value);
      const extra = other.value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const allTypes = [...chosen, ...extra];
      let parsedFilter = null;
      if (filter.value.trim()) {
        try {
          parsedFilter = JSON.parse(filter.value);
        } catch {
          throw new Error('The filter is not valid JSON');
        }
      }
      // Masked values cannot be sent back: unchanged headers are left alone, changed ones re-entered.
      const headersChanged = headers.value !== headersBaseline;
      const parsedHeaders = parseHeaders(headers.value);
      if (headersChanged && Object.values(parsedHeaders).includes('[redacted]'))
        throw new Error('Type the real value of each [redacted] header, or leave the headers unchanged');
      body = {
        url: url.value.trim(),
        description: description.value.trim(),
        event_types: allTypes.length ? allTypes : null,
        filter: parsedFilter,
        ...((!endpoint || headersChanged) && { headers: parsedHeaders }),
        rate_limit: rate.value === '' ? null : Number(rate.value),
        ...(concurrency.value !== '' && { max_concurrency: Number(concurrency.value) }),
        ...(paused?.querySelector('input').checked && { status: 'paused' }),
      };
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      await onSubmit(body);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
