// Pieces several pages share: event tables, type names, the list of sources, "load more" pagers.

import { api } from '../api.js';
import { typeClass } from '../chart.js';
import { badge, errorBox, field, h, idLink, link, route, select, time, toast } from '../dom.js';

export const EMAIL_TYPES = [
  'email.sent',
  'email.delivered',
  'email.deferred',
  'email.bounced',
  'email.dropped',
  'email.failed',
  'email.opened',
  'email.clicked',
  'email.complained',
  'email.unsubscribed',
  'email.resubscribed',
];

export function typeLabel(type) {
  return h('span', { class: `type ${typeClass(type)}` }, type);
}

/** id → source, read once per page. */
export async function loadSources(signal) {
  const { data } = await api('/sources', { signal });
  return new Map(data.map((s) => [s.id, s]));
}

function sourceCell(sources, id) {
  if (id === 'src_published') return h('span', { class: 'muted' }, 'published');
  const source = sources?.get(id);
  return link(route(`sources/${encodeURIComponent(id)}`), source ? source.name : id);
}

/** Columns of an event list; `sources` (from loadSources) turns source ids into names. */
export function eventColumns(sources) {
  return [
    { label: 'Time', class: 'nowrap', cell: (e) => time(e.timestamp) },
    { label: 'Type', class: 'nowrap', cell: (e) => typeLabel(e.type) },
    {
      label: 'Recipient',
      cell: (e) =>
        e.data.recipient
          ? link(route(`recipients/${encodeURIComponent(e.data.recipient)}`), e.data.recipient)
          : '—',
    },
    {
      label: 'Message',
      cell: (e) =>
        e.data.message_id
          ? link(route('events', { message_id: e.data.message_id }), e.data.message_id, { class: 'mono' })
          : '—',
    },
    { label: 'Source', cell: (e) => sourceCell(sources, e.data.source_id) },
    {
      label: 'Event',
      class: 'nowrap',
      cell: (e) => idLink(route(`events/${encodeURIComponent(e.id)}`), e.id),
    },
  ];
}

/**
 * A "Load more" button under a table for cursor pagination: `fetchPage(cursor)` resolves to
 * `{ data, next_cursor }`; each page is handed to `addRows`. Nothing ever loads a whole list.
 */
export function pager(fetchPage, addRows, firstCursor, label = 'Load older') {
  let cursor = firstCursor;
  const status = h('span', { class: 'muted', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', hidden: !cursor }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const page = await fetchPage(cursor);
      const rows = addRows(page.data);
      cursor = page.next_cursor;
      button.hidden = !cursor;
      status.textContent = `${page.data.length} more loaded${cursor ? '' : '; that is all'}.`;
      // Keep keyboard users in the list: focus the first new row's first link.
      rows?.[0]?.querySelector('a, button')?.focus();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'pager' }, button, status);
}

/** The event-type filter: every canonical type, plus any custom type typed in. */
export function typeSelect(value) {
  const options = [['', 'any type'], ...EMAIL_TYPES.map((t) => [t, t])];
  if (value && !EMAIL_TYPES.includes(value)) options.push([value, value]);
  return select('type', options, value ?? '');
}

export function sourceSelect(sources, value) {
  const options = [
    ['', 'any source'],
    ...[...sources.values()].map((s) => [s.id, `${s.name} (${s.provider})`]),
    ['src_published', 'published through the API'],
  ];
  return select('source_id', options, value ?? '');
}

export function statusBadge(status) {
  return badge(status);
}

/** A labelled section card with a heading whose id other elements can point to. */
export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A placeholder filled in when `promise` (a node or nodes) resolves; a failure only affects it. */
export function slot(promise) {
  const box = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  promise.then(
    (content) => box.replaceChildren(...[content].flat()),
    (err) => {
      if (err.name !== 'AbortError') box.replaceChildren(errorBox(err));
    },
  );
  return box;
}

/** Enabled or not, missing credentials, and what provider handshakes left (SNS subscription). */
export function sourceState(source) {
  const parts = [badge(source.enabled ? 'enabled' : 'disabled')];
  if (source.config_keys.length === 0 && source.provider !== 'ses')
    parts.push(' ', badge('no credentials', 'bad'));
  for (const [key, value] of Object.entries(source.state ?? {})) {
    if (typeof value === 'string' || typeof value === 'number')
      parts.push(' ', h('span', { class: 'muted' }, `${key}: ${value}`));
  }
  return parts;
}

export { field };
