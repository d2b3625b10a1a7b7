// Recipients: an address's suppression state, engagement, messages and recent events
// (GET /v1/recipients/:email).

import { api } from '../api.js';
import { add, badge, field, formValues, h, idText, link, route, table, time } from '../dom.js';
import { eventColumns, section } from './shared.js';

function searchForm(go, email = '') {
  const form = h(
    'form',
    { class: 'filters card', role: 'search', 'aria-label': 'Find a recipient' },
    field(
      'Email address',
      h('input', {
        name: 'email',
        type: 'email',
        required: true,
        value: email,
        placeholder: 'user@example.com',
      }),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Show'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(route(`recipients/${encodeURIComponent(formValues(form).email.toLowerCase())}`));
  });
  return form;
}

function stat(label, value) {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'value' }, String(value)),
    h('span', { class: 'label' }, label),
  );
}

export async function render(main, { params, signal, go }) {
  if (!params.id) {
    add(
      main,
      h('div', { class: 'page-head' }, h('h1', null, 'Recipients')),
      searchForm(go),
      h('p', { class: 'muted' }, 'Look up an address to see its messages, engagement and suppression state.'),
    );
    return;
  }
  const r = await api(`/recipients/${encodeURIComponent(params.id)}`, { signal });
  const e = r.engagement;
  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, r.email),
      h(
        'div',
        { class: 'actions' },
        r.suppressed ? badge('suppressed') : badge('not suppressed', 'ok'),
        link(route('suppressions'), 'Suppressions'),
      ),
    ),
    searchForm(go, r.email),
    h(
      'div',
      { class: 'stats' },
      stat('delivered', e.delivered),
      stat('opened', e.opened),
      stat('opened by people', e.opened_by_people),
      stat('clicked', e.clicked),
      stat('bounced', e.bounced),
      stat('complained', e.complained),
    ),
    h(
      'p',
      { class: 'muted' },
      `Last opened ${e.last_opened_at ? new Date(e.last_opened_at).toLocaleString() : 'never'} · last clicked ${e.last_clicked_at ? new Date(e.last_clicked_at).toLocaleString() : 'never'}`,
    ),
    r.suppressions.length
      ? section(
          'Suppression entries',
          table(
            [
              { label: 'Scope', cell: (s) => s.scope },
              { label: 'Reason', cell: (s) => badge(s.reason, 'suppressed') },
              { label: 'Detail', cell: (s) => s.detail ?? '—' },
              { label: 'Since', cell: (s) => time(s.created_at) },
            ],
            r.suppressions,
            { caption: 'Suppression entries' },
          ).el,
        )
      : null,
    section(
      'Messages',
      table(
        [
          {
            label: 'Message',
            cell: (m) =>
              idText(m.message_id, {
                href: route('events', { message_id: m.message_id }),
                label: 'message id',
              }),
          },
          { label: 'Status', cell: (m) => badge(m.status) },
          { label: 'Events', cell: (m) => String(m.events) },
          { label: 'First event', class: 'nowrap', cell: (m) => time(m.first_event_at) },
          { label: 'Last event', class: 'nowrap', cell: (m) => time(m.last_event_at) },
        ],
        r.messages,
        { caption: 'Messages to this recipient', empty: 'No messages.' },
      ).el,
    ),
    section(
      'Recent events',
      table(eventColumns(null), r.recent_events, { caption: 'Recent events', empty: 'No events.' }).el,
      h('p', null, link(route('events', { recipient: r.email }), 'All events for this address')),
    ),
  );
}
