// Quarantine: verified requests the parser could not read (GET /v1/inbox?status=quarantined), their
// error, and reprocessing after a fix (POST /v1/inbox/reprocess). Other inbox states can be browsed too.

import { api } from '../api.js';
import { act, add, badge, field, h, idLink, link, route, select, table, time } from '../dom.js';
import { pager } from './shared.js';

const STATUSES = ['quarantined', 'pending', 'processed'];

export function reprocessButton(ids, label = 'Reprocess') {
  const button = h('button', { type: 'button', class: 'small' }, label);
  button.addEventListener('click', () =>
    act(
      button,
      () => api('/inbox/reprocess', { method: 'POST', body: { ids } }),
      (r) => `${r.requeued} request${r.requeued === 1 ? '' : 's'} queued for the pipeline`,
    ),
  );
  return button;
}

export async function render(main, { query, signal, go }) {
  const status = STATUSES.includes(query.get('status')) ? query.get('status') : 'quarantined';
  const first = await api('/inbox', { query: { status, limit: 50 }, signal });
  const list = table(
    [
      { label: 'Received', class: 'nowrap', cell: (r) => time(r.received_at) },
      {
        label: 'Request',
        cell: (r) => idLink(route(`inbox/${encodeURIComponent(r.id)}`), r.id),
      },
      { label: 'Source', cell: (r) => link(route(`sources/${encodeURIComponent(r.source_id)}`), r.provider) },
      { label: 'Status', cell: (r) => badge(r.status) },
      { label: 'Error', cell: (r) => r.error ?? (r.notes?.length ? `${r.notes.length} notes` : '—') },
      { label: 'Events', cell: (r) => `${r.event_count} (+${r.duplicate_count} dup)` },
      { label: 'Tries', cell: (r) => String(r.attempts) },
      { label: '', cell: (r) => (r.status === 'pending' ? '' : reprocessButton([r.id])) },
    ],
    first.data,
    {
      caption: `Inbox rows: ${status}`,
      empty: status === 'quarantined' ? 'Nothing quarantined.' : 'No rows.',
    },
  );
  const filter = select('status', STATUSES, status);
  filter.addEventListener('change', () => go(route('quarantine', { status: filter.value })));
  const all = h('button', { type: 'button', class: 'primary' }, 'Reprocess all quarantined');
  all.addEventListener('click', () =>
    act(
      all,
      () => api('/inbox/reprocess', { method: 'POST', body: { status: 'quarantined' } }),
      (r) => `${r.requeued} requests queued for the pipeline`,
    ),
  );
  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Quarantine'), h('div', { class: 'actions' }, all)),
    h(
      'p',
      { class: 'muted' },
      'Verified requests are kept byte for byte. One the parser cannot read is quarantined instead of dropped; reprocess it after a fix.',
    ),
    h('div', { class: 'filters' }, field('Inbox status', filter)),
    h(
      'div',
      { class: 'card' },
      list.el,
      pager(
        (cursor) => api('/inbox', { query: { status, limit: 50, cursor } }),
        list.addRows,
        first.next_cursor,
      ),
    ),
  );
}
