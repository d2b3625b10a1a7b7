// One source: its ingest URL and setup instructions, its last events, a sample event sent through the
// real ingest path, its credentials (replace only: config is write-only), enable/disable, delete.

import { api } from '../api.js';
import {
  act,
  add,
  ago,
  command as commandBlock,
  copyButton,
  emptyState,
  field,
  formValues,
  h,
  idText,
  jsonBlock,
  link,
  route,
  select,
  table,
  toast,
} from '../dom.js';
import { configFields, configFrom, providerById } from '../providers.js';
import { historySection } from './history.js';
import { dataField, EMAIL_TYPES, eventColumns, section, slot, sourceState } from './shared.js';

/** Standard Webhooks signature (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`) with WebCrypto. */
export async function signStandard(secret, id, timestamp, body) {
  const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${btoa(String.fromCharCode(...new Uint8Array(mac)))}`;
}

function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}_${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The ingest path on this origin: the configured public URL may not be reachable from here. */
function ingestPath(source) {
  return new URL(source.ingest_url).pathname;
}

function sampleForm(source) {
  if (source.provider !== 'standard') {
    const command = `mailhook simulate --provider ${source.provider} --key <credential> --url ${source.ingest_url} --count 1`;
    return [
      h(
        'p',
        null,
        `${providerById(source.provider)?.name ?? source.provider} signs with its own scheme, which the browser cannot reproduce without your provider credentials. Send a realistic signed sample from a terminal; --key is the same credential this source was given ("mailhook simulate --help" shows its form for each provider):`,
      ),
      commandBlock(command),
    ];
  }
  if (!globalThis.crypto?.subtle) {
    return h('p', { class: 'muted' }, 'Signing in the browser needs a secure context (HTTPS or localhost).');
  }
  const result = h('p', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send sample event');
  const form = h(
    'form',
    { 'aria-label': 'Send a sample event' },
    h(
      'p',
      { class: 'hint' },
      'Paste the source\u2019s signing secret: the browser signs the sample with it (the secret is not stored or sent) and posts it to the ingest URL, exactly as a sender would.',
    ),
    field(
      'Signing secret',
      h('input', {
        name: 'secret',
        type: 'password',
        required: true,
        autocomplete: 'off',
        placeholder: 'whsec_…',
      }),
    ),
    h(
      'div',
      { class: 'filters' },
      field('Type', select('type', EMAIL_TYPES, 'email.delivered')),
      field(
        'Recipient',
        h('input', {
          name: 'recipient',
          type: 'email',
          value: 'sample.recipient@example.com',
          required: true,
        }),
      ),
    ),
    h('div', { class: 'actions' }, submit),
    result,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = formValues(form);
    const id = randomId('msg');
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify({
      type: values.type,
      timestamp: new Date().toISOString(),
      data: {
        recipient: values.recipient,
        message_id: randomId('sample'),
        tags: ['mailhook-sample'],
        ...(values.type === 'email.bounced' && {
          bounce: { type: 'hard', code: '5.1.1', reason: 'sample bounce' },
        }),
        ...(values.type === 'email.clicked' && { click: { url: 'https://example.com/' } }),
      },
    });
    await act(
      submit,
      async () => {
        let signature;
        try {
          signature = await signStandard(values.secret, id, timestamp, body);
        } catch {
          throw new Error('That is not a whsec_… secret');
        }
        const response = await fetch(ingestPath(source), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': timestamp,
            'webhook-signature': signature,
          },
          body,
        });
        const text = await response.text();
        result.replaceChildren(
          `Ingest answered ${response.status}${response.ok ? ' — stored; it appears in the live tail once processed. ' : `: ${text} `}`,
          response.ok ? link('#/tail', 'Open the live tail') : '',
        );
        if (!response.ok) throw new Error(`Ingest answered ${response.status}`);
      },
      'Sample event sent',
    );
  });
  return form;
}

function credentialsForm(source, refresh) {
  const provider = providerById(source.provider);
  if (!provider) return h('p', { class: 'muted' }, 'Unknown provider.');
  const submit = h('button', { type: 'submit' }, 'Replace credentials');
  const form = h(
    'form',
    { 'aria-label': 'Replace credentials' },
    h(
      'p',
      null,
      'Set now: ',
      source.config_keys.length
        ? source.config_keys.map((k) => h('code', null, k)).flatMap((c) => [c, ' '])
        : 'nothing',
    ),
    h(
      'p',
      { class: 'hint' },
      'Credentials are write-only: they are never shown. Saving replaces the whole config.',
    ),
    configFields(provider),
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(
      submit,
      async () => {
        await api(`/sources/${encodeURIComponent(source.id)}`, {
          method: 'PATCH',
          body: { config: configFrom(provider, formValues(form)) },
        });
        await refresh();
      },
      'Credentials saved',
    );
  });
  return form;
}

async function recentEvents(source, signal) {
  const page = await api('/events', { query: { source_id: source.id, limit: 10 }, signal });
  const last = page.data[0];
  const receivedAt = last ? (dataField(last, 'received_at') ?? last.timestamp) : null;
  return section(
    'Recent events',
    h(
      'p',
      null,
      'Last event: ',
      last
        ? [link(route(`events/${encodeURIComponent(last.id)}`), last.type), ` received ${ago(receivedAt)}`]
        : 'none yet',
    ),
    table(eventColumns(null, { source: false }), page.data, {
      caption: 'Recent events of this source',
      empty: emptyState(
        'No events yet: they appear once the provider posts to the ingest URL.',
        h(
          'p',
          null,
          source.provider === 'standard'
            ? 'Paste the setup above into the sender, or use "Send a sample event" to post a signed sample now.'
            : 'Paste the setup above into the provider\u2019s dashboard, or run the simulate command under "Send a sample event".',
        ),
      ),
    }).el,
    page.data.length
      ? h('p', null, link(route('events', { source_id: source.id }), 'All events from this source'))
      : null,
  );
}

function requestsHistory(source, signal) {
  return historySection({
    title: 'Requests per hour',
    caption: 'Requests stored per hour',
    path: `/sources/${encodeURIComponent(source.id)}/history`,
    signal,
    series: [
      { key: 'parsed', label: 'parsed', class: 's-ok' },
      { key: 'quarantined', label: 'quarantined', class: 's-bad' },
    ],
    counts: (row) => ({ parsed: row.parsed, quarantined: row.quarantined }),
    summary: (buckets, period) => {
      const requests = buckets.reduce((n, b) => n + (b.row?.requests ?? 0), 0);
      const quarantined = buckets.reduce((n, b) => n + (b.row?.quarantined ?? 0), 0);
      if (!requests) return `No requests in the ${period}.`;
      return [
        `${requests} request${requests === 1 ? '' : 's'} in the ${period}`,
        quarantined
          ? [', ', link(route('quarantine'), `${quarantined} quarantined`), '.']
          : ', every one parsed.',
      ];
    },
    empty: () =>
      'Nothing was posted to this source in this period: give the provider the ingest URL under Setup.',
  });
}

export async function render(main, ctx) {
  const { params, signal, go, query } = ctx;
  const path = `/sources/${encodeURIComponent(params.id)}`;
  const source = await api(path, { signal });
  const refresh = async () => {
    main.replaceChildren();
    await render(main, { ...ctx, query: new URLSearchParams() });
  };
  const toggle = h('button', { type: 'button' }, source.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', () =>
    act(
      toggle,
      async () => {
        await api(path, { method: 'PATCH', body: { enabled: !source.enabled } });
        await refresh();
      },
      source.enabled ? 'Source disabled' : 'Source enabled',
    ),
  );
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!window.confirm(`Delete source "${source.name}"? Its events stay; posts to its URL get 404.`)) return;
    const done = await act(remove, () => api(path, { method: 'DELETE' }), 'Source deleted');
    if (done !== undefined) go('#/sources');
  });

  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, source.name),
      h('div', { class: 'actions' }, sourceState(source), toggle, remove),
    ),
    h('p', { class: 'page-id' }, 'Source ', idText(source.id, { full: true, label: 'source id' })),
    query.get('created')
      ? h(
          'p',
          { class: 'card', role: 'status' },
          'Source created. Give the provider the URL and settings below.',
        )
      : null,
    h(
      'div',
      { class: 'grid' },
      section(
        'Setup',
        h('p', null, 'Ingest URL'),
        h(
          'div',
          { class: 'secret' },
          h('code', null, source.ingest_url),
          copyButton(source.ingest_url, { text: 'Copy', label: 'Copy ingest URL' }),
        ),
        h('pre', { class: 'block', tabindex: 0, 'aria-label': 'Setup instructions' }, source.setup),
      ),
      section('Send a sample event', sampleForm(source)),
    ),
    requestsHistory(source, signal),
    slot(recentEvents(source, signal)),
    section(
      'Credentials',
      credentialsForm(source, refresh),
      Object.keys(source.state ?? {}).length
        ? [h('h3', null, 'State'), jsonBlock(source.state, 'Source state')]
        : null,
    ),
  );
  if (source.config_keys.length === 0 && source.provider !== 'ses') {
    toast('This source has no credentials yet: every post to it is refused until they are set.', 'info');
  }
}
