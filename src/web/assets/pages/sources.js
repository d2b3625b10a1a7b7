// Sources: the list, and a form per provider to add one (which config keys it needs comes from the
// static table in providers.js; the server validates them).

import { api } from '../api.js';
import {
  add,
  command,
  emptyState,
  field,
  formValues,
  h,
  link,
  route,
  select,
  table,
  time,
  toast,
} from '../dom.js';
import { configFields, configFrom, PROVIDERS, providerById } from '../providers.js';
import { section, sourceState } from './shared.js';

function addForm(go) {
  const configBox = h('div', { id: 'provider-config' });
  const provider = select(
    'provider',
    [['', 'Choose a provider…'], ...PROVIDERS.map((p) => [p.id, p.name])],
    '',
  );
  provider.required = true;
  provider.addEventListener('change', () => {
    const p = providerById(provider.value);
    configBox.replaceChildren(...(p ? configFields(p) : []));
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create source');
  const form = h(
    'form',
    { 'aria-label': 'Add a source' },
    field(
      'Name',
      h('input', {
        name: 'name',
        type: 'text',
        required: true,
        maxlength: 200,
        placeholder: 'SendGrid production',
      }),
    ),
    field('Provider', provider),
    configBox,
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', name: 'enabled', checked: true }),
      ' Enabled (accepts posts at once)',
    ),
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = formValues(form);
    const p = providerById(values.provider);
    submit.disabled = true;
    try {
      const created = await api('/sources', {
        method: 'POST',
        body: {
          name: values.name,
          provider: values.provider,
          config: configFrom(p, values),
          enabled: values.enabled,
        },
      });
      toast(`Source "${created.name}" created`, 'success');
      go(route(`sources/${encodeURIComponent(created.id)}`, { created: 1 }));
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(main, { signal, go, query }) {
  const { data } = await api('/sources', { signal });
  const list = table(
    [
      { label: 'Name', cell: (s) => link(route(`sources/${encodeURIComponent(s.id)}`), s.name) },
      { label: 'Provider', cell: (s) => providerById(s.provider)?.name ?? s.provider },
      { label: 'State', cell: (s) => sourceState(s) },
      { label: 'Ingest URL', cell: (s) => h('code', null, s.ingest_url) },
      { label: 'Created', class: 'nowrap', cell: (s) => time(s.created_at) },
    ],
    data,
    {
      caption: 'Sources',
      empty: emptyState(
        'No sources yet: add one with the form below (it is open), or from a terminal:',
        command('mailhook sources add --name "SendGrid production" --provider sendgrid'),
      ),
    },
  );
  const adding = query.get('add') === '1' || data.length === 0;
  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Sources')),
    h('div', { class: 'card' }, list.el),
    section(
      'Add a source',
      h(
        'details',
        { open: adding },
        h('summary', null, 'New source'),
        h(
          'p',
          { class: 'hint' },
          'Each provider needs different credentials: pick one to see its fields. After creating, the source page shows the URL and what to paste in the provider\u2019s dashboard.',
        ),
        addForm(go),
      ),
    ),
  );
}
