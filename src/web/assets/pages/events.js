// Events explorer: GET /v1/events with every filter it takes, newest first, one page at a time.
// Filters live in the URL hash, so a filtered view can be bookmarked and the back button works.

import { api } from '../api.js';
import {
  add,
  emptyState,
  field,
  formValues,
  fromLocalInput,
  h,
  link,
  route,
  select,
  table,
  toLocalInput,
} from '../dom.js';
import { eventColumns, eventsNextStep, loadSources, pager, sourceSelect, typeSelect } from './shared.js';

const FILTERS = ['type', 'recipient', 'message_id', 'source_id', 'since', 'until'];

export async function render(main, { query, signal, go }) {
  const q = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) ?? '']));
  const limit = ['50', '100', '200'].includes(query.get('limit')) ? query.get('limit') : '50';
  const sources = await loadSources(signal);

  const form = h(
    'form',
    { class: 'filters card', 'aria-label': 'Event filters' },
    field('Type', typeSelect(q.type)),
    field(
      'Recipient',
      h('input', { name: 'recipient', type: 'text', value: q.recipient, placeholder: 'user@example.com' }),
    ),
    field('Message id', h('input', { name: 'message_id', type: 'text', value: q.message_id })),
    field('Source', sourceSelect(sources, q.source_id)),
    field(
      'From (local time)',
      h('input', { name: 'since', type: 'datetime-local', value: q.since ? toLocalInput(q.since) : '' }),
    ),
    field(
      'Until (local time)',
      h('input', { name: 'until', type: 'datetime-local', value: q.until ? toLocalInput(q.until) : '' }),
    ),
    field('Per page', select('limit', ['50', '100', '200'], limit)),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('a', { href: '#/events' }, 'Reset'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(form);
    go(
      route('events', {
        ...values,
        since: fromLocalInput(values.since),
        until: fromLocalInput(values.until),
      }),
    );
  });

  const apiQuery = { ...Object.fromEntries(FILTERS.map((n) => [n, q[n]])), limit };
  const first = await api('/events', { query: apiQuery, signal });
  const filtered = FILTERS.some((name) => q[name]);
  const list = table(eventColumns(sources), first.data, {
    caption: 'Events, newest first',
    empty: filtered
      ? emptyState('No events match these filters.', h('p', null, link('#/events', 'Show every event')))
      : emptyState('No events yet.', eventsNextStep(sources)),
  });
  const more = pager(
    (cursor) => api('/events', { query: { ...apiQuery, cursor } }),
    list.addRows,
    first.next_cursor,
  );

  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Events')),
    form,
    h('div', { class: 'card' }, list.el, more),
  );
}
