// One stored raw request: what the provider sent (headers and body), and what became of it.

import { api } from '../api.js';
import { add, badge, copyButton, h, jsonBlock, link, route, time } from '../dom.js';
import { reprocessButton } from './quarantine.js';
import { section } from './shared.js';

function prettyBody(row) {
  if (row.body_encoding !== 'utf8') return row.body;
  try {
    return JSON.stringify(JSON.parse(row.body), null, 2);
  } catch {
    return row.body;
  }
}

export async function render(main, { params, signal }) {
  const row = await api(`/inbox/${encodeURIComponent(params.id)}`, { signal });
  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Request ', h('code', null, row.id)),
      h(
        'div',
        { class: 'actions' },
        copyButton(row.id, { text: 'Copy id', label: 'Copy id of this request' }),
        badge(row.status),
        row.status === 'pending' ? null : reprocessButton([row.id]),
      ),
    ),
    section(
      'Outcome',
      h(
        'dl',
        { class: 'props' },
        h('dt', null, 'Source'),
        h(
          'dd',
          null,
          link(route(`sources/${encodeURIComponent(row.source_id)}`), row.source_id),
          ` (${row.provider})`,
        ),
        h('dt', null, 'Received'),
        h('dd', null, time(row.received_at)),
        h('dt', null, 'Processed'),
        h('dd', null, time(row.processed_at)),
        h('dt', null, 'Error'),
        h('dd', null, row.error ?? '—'),
        h('dt', null, 'Events'),
        h(
          'dd',
          null,
          `${row.event_count} stored, ${row.duplicate_count} duplicates`,
          row.event_count
            ? [' · ', link(route('events', { source_id: row.source_id }), 'events of this source')]
            : null,
        ),
        h('dt', null, 'Pipeline runs'),
        h('dd', null, String(row.attempts)),
        h('dt', null, 'Request'),
        h(
          'dd',
          null,
          h('code', null, `${row.method} ${row.path}${row.query ? `?${row.query}` : ''}`),
          ` · ${row.size} bytes`,
        ),
      ),
      row.notes?.length ? [h('h3', null, 'Notes'), jsonBlock(row.notes, 'Parser notes')] : null,
    ),
    h(
      'div',
      { class: 'grid' },
      section('Headers', jsonBlock(row.headers, 'Request headers')),
      section(
        `Body (${row.body_encoding})`,
        h('pre', { class: 'block', tabindex: 0, 'aria-label': 'Request body' }, prettyBody(row)),
      ),
    ),
  );
}
