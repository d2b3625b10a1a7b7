// Pieces several pages share: event tables, type names, the list of sources, "load more" pagers.

import { api } from '../api.js';
import { typeClass } from '../chart.js';
import {
  badge,
  breakable,
  command,
  errorBox,
  field,
  h,
  idText,
  link,
  route,
  select,
  time,
  toast,
} from '../dom.js';

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
  return h('span', { class: `type ${typeClass(type)}` }, h('span', null, breakable(type, '.')));
}

/** id → source, read once per page. */
export async function loadSources(signal) {
  const { data } = await api('/sources', { signal });
  return new Map(data.map((s) => [s.id, s]));
}

/**
 * Source ids that name no source: events published through the API, and mailhook's own system.*
 * events. They have no source page; their link lists their events instead.
 */
export const PSEUDO_SOURCES = {
  src_published: 'published',
  src_system: 'mailhook (system)',
};

/** A string field of an event's data, or null: published events carry whatever data they were given. */
export function dataField(event, name) {
  const value = event?.data && typeof event.data === 'object' ? event.data[name] : undefined;
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A link to a source by id: its name when known; pseudo-sources link to their events. */
export function sourceLink(sources, id) {
  if (!id) return '—';
  if (PSEUDO_SOURCES[id]) return link(route('events', { source_id: id }), PSEUDO_SOURCES[id]);
  const source = sources?.get(id);
  const href = route(`sources/${encodeURIComponent(id)}`);
  return source ? link(href, source.name) : idText(id, { href, label: 'source id' });
}

/** Columns of an event list; `sources` (from loadSources) turns source ids into names. */
export function eventColumns(sources, { source = true } = {}) {
  return [
    { label: 'Time', class: 'nowrap', cell: (e) => time(e.timestamp) },
    { label: 'Type', cell: (e) => typeLabel(e.type) },
    {
      label: 'Recipient',
      cell: (e) => {
        const recipient = dataField(e, 'recipient');
        return recipient
          ? link(route(`recipients/${encodeURIComponent(recipient)}`), breakable(recipient, '@'))
          : '—';
      },
    },
    {
      label: 'Message',
      cell: (e) => {
        const messageId = dataField(e, 'message_id');
        return messageId
          ? idText(messageId, { href: route('events', { message_id: messageId }), label: 'message id' })
          : '—';
      },
    },
    source ? { label: 'Source', cell: (e) => sourceLink(sources, dataField(e, 'source_id')) } : null,
    {
      label: 'Event',
      class: 'nowrap',
      cell: (e) => idText(e.id, { href: route(`events/${encodeURIComponent(e.id)}`), label: 'event id' }),
    },
  ].filter(Boolean);
}

/**
 * The next step when no event is listed: with a source, its page (a sample event) or the simulator;
 * without one, adding a source, or publishing an event with one request.
 */
export function eventsNextStep(sources) {
  const first = sources ? [...sources.values()].find((s) => s.enabled) : null;
  const publish = `curl -X POST ${location.origin}/v1/events -H "Authorization: Bearer $MAILHOOK_API_KEY" -H 'content-type: application/json' -d '{"type": "email.delivered", "data": {"recipient": "user@example.com"}}'`;
  if (!first) {
    return [
      h(
        'p',
        null,
        link(route('sources', { add: 1 }), 'Add a source'),
        ' and give its URL to your email provider, or publish an event yourself:',
      ),
      command(publish),
    ];
  }
  const simulate = `mailhook simulate --provider ${first.provider} --key <credential> --url ${first.ingest_url} --count 10`;
  return [
    h(
      'p',
      null,
      'Send a sample event from the page of ',
      link(route(`sources/${encodeURIComponent(first.id)}`), first.name),
      ', or simulate provider traffic (the key is the credential the source was given):',
    ),
    command(simulate),
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

/**
 * Page-by-page navigation over a cursor-paginated list, for lists read as pages (the attempt log)
 * rather than scrolled. `fetchPage(cursor)` resolves to `{ data, next_cursor }`; `show(rows, from)`
 * replaces what is shown. Newer pages are the cursors already walked through, kept in memory.
 */
export function pageControls(fetchPage, show, first, { noun = 'rows', pageSize }) {
  const cursors = [undefined]; // cursors[i] fetched page i
  let index = 0;
  let next = first.next_cursor;
  let count = first.data.length;
  const status = h('span', { class: 'muted', 'aria-live': 'polite' });
  const newest = h('button', { type: 'button' }, 'Newest');
  const newer = h('button', { type: 'button' }, '\u2039 Newer');
  const older = h('button', { type: 'button' }, 'Older \u203a');
  const update = () => {
    const from = index * pageSize + 1;
    status.textContent =
      count === 0
        ? `No ${noun} on this page.`
        : `${noun[0].toUpperCase()}${noun.slice(1)} ${from}\u2013${from + count - 1}${next ? '' : ' (the oldest)'}`;
    newest.disabled = index === 0;
    newer.disabled = index === 0;
    older.disabled = !next;
  };
  const go = async (target, button) => {
    for (const b of [newest, newer, older]) b.disabled = true;
    try {
      const page = await fetchPage(cursors[target]);
      index = target;
      cursors[index + 1] = page.next_cursor ?? undefined;
      next = page.next_cursor;
      count = page.data.length;
      show(page.data, index * pageSize);
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      update();
      // The button pressed may now be disabled (no newer page): keep focus inside the controls.
      (button.disabled ? [older, newer].find((b) => !b.disabled) : button)?.focus();
    }
  };
  cursors[1] = next ?? undefined;
  newest.addEventListener('click', () => go(0, newest));
  newer.addEventListener('click', () => go(index - 1, newer));
  older.addEventListener('click', () => go(index + 1, older));
  update();
  return h(
    'div',
    { class: 'pager', role: 'group', 'aria-label': `Pages of ${noun}` },
    newest,
    newer,
    older,
    status,
  );
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
    ['src_system', 'mailhook system events'],
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
