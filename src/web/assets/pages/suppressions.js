// Suppressions: look an address up, add one by hand, browse the list by reason (paginated), remove
// entries, and export everything as CSV (downloaded with fetch so the key stays in a header).

import { api, download } from '../api.js';
import {
  act,
  add,
  badge,
  command,
  emptyState,
  field,
  formValues,
  h,
  idLink,
  link,
  route,
  select,
  table,
  time,
  toast,
} from '../dom.js';
import { pager, section } from './shared.js';

const REASONS = ['hard_bounce', 'soft_bounces', 'complaint', 'unsubscribe', 'manual'];

/** `group:news` → `news`; the API takes the group name, not the scope. */
function groupOf(scope) {
  return scope?.startsWith('group:') ? scope.slice(6) : '';
}

function removeButton(entry, after) {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'small danger',
      'aria-label': `Remove ${entry.email} (${entry.scope}, ${entry.reason})`,
    },
    'Remove',
  );
  button.addEventListener('click', async () => {
    const done = await act(
      button,
      () =>
        api(`/suppressions/${encodeURIComponent(entry.email)}`, {
          method: 'DELETE',
          query: { group: groupOf(entry.scope), reason: entry.reason },
        }),
      (r) => `${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} removed`,
    );
    if (done) after(done);
  });
  return button;
}

const columns = (after) => [
  { label: 'Email', cell: (e) => link(route(`recipients/${encodeURIComponent(e.email)}`), e.email) },
  { label: 'Scope', cell: (e) => e.scope },
  { label: 'Reason', cell: (e) => badge(e.reason, 'suppressed') },
  { label: 'Detail', cell: (e) => e.detail ?? '—' },
  {
    label: 'Event',
    cell: (e) => (e.event_id ? idLink(route(`events/${encodeURIComponent(e.event_id)}`), e.event_id) : '—'),
  },
  { label: 'Since', class: 'nowrap', cell: (e) => time(e.created_at) },
  { label: '', cell: (e) => removeButton(e, after) },
];

function lookupForm() {
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Check');
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Check an address' },
    field(
      'Email address',
      h('input', { name: 'email', type: 'email', required: true, placeholder: 'user@example.com' }),
    ),
    field('Unsubscribe group (optional)', h('input', { name: 'group', type: 'text' })),
    submit,
  );
  const show = (answer) =>
    result.replaceChildren(
      h(
        'p',
        null,
        h('strong', null, answer.email),
        ' is ',
        answer.suppressed ? badge('suppressed') : badge('not suppressed', 'ok'),
        ' ',
        link(route(`recipients/${encodeURIComponent(answer.email)}`), 'recipient page'),
      ),
      answer.reasons.length
        ? table(
            columns(() => form.requestSubmit()),
            answer.reasons,
            { caption: 'Suppression entries' },
          ).el
        : null,
    );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { email, group } = formValues(form);
    const answer = await act(submit, () =>
      api(`/suppressions/${encodeURIComponent(email)}`, { query: { group } }),
    );
    if (answer) show(answer);
  });
  return [form, result];
}

function addForm(after) {
  const submit = h('button', { type: 'submit' }, 'Suppress');
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Suppress an address' },
    field('Email address', h('input', { name: 'email', type: 'email', required: true })),
    field('Unsubscribe group (optional)', h('input', { name: 'group', type: 'text' })),
    field('Note (optional)', h('input', { name: 'detail', type: 'text', maxlength: 1000 })),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { email, group, detail } = formValues(form);
    const done = await act(
      submit,
      () =>
        api('/suppressions', {
          method: 'POST',
          body: { email, ...(group && { group }), ...(detail && { detail }) },
        }),
      `${email} suppressed`,
    );
    if (done) {
      form.reset();
      after();
    }
  });
  return form;
}

export async function render(main, ctx) {
  const { query, signal, go } = ctx;
  const reason = REASONS.includes(query.get('reason')) ? query.get('reason') : '';
  const refresh = () => {
    main.replaceChildren();
    render(main, ctx).catch((err) => toast(err.message, 'error'));
  };
  const first = await api('/suppressions', { query: { reason, limit: 100 }, signal });
  const list = table(columns(refresh), first.data, {
    caption: 'Suppressed addresses',
    empty: reason
      ? `No suppressions for the reason ${reason}.`
      : emptyState(
          'No suppressions yet: hard bounces, complaints and unsubscribes add addresses here as they arrive. Add one by hand with the form above, or from a terminal:',
          command('mailhook suppressions add user@example.com --detail "asked by phone"'),
        ),
  });
  const reasonFilter = select('reason', [['', 'any reason'], ...REASONS], reason);
  reasonFilter.addEventListener('change', () => go(route('suppressions', { reason: reasonFilter.value })));
  const exportButton = h('button', { type: 'button' }, 'Export CSV');
  exportButton.addEventListener('click', () =>
    act(exportButton, () => download('/suppressions.csv', 'suppressions.csv'), 'suppressions.csv downloaded'),
  );
  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Suppressions'),
      h('div', { class: 'actions' }, exportButton),
    ),
    h(
      'div',
      { class: 'grid' },
      section('Check an address', ...lookupForm()),
      section('Add a suppression', addForm(refresh)),
    ),
    section(
      'All suppressions',
      h('div', { class: 'filters' }, field('Reason', reasonFilter)),
      list.el,
      pager(
        (cursor) => api('/suppressions', { query: { reason, limit: 100, cursor } }),
        list.addRows,
        first.next_cursor,
      ),
    ),
  );
}
