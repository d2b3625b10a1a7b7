// One event: its canonical form, the provider's raw payload, the message's timeline and the
// deliveries made for it.

import { api, findInPages } from '../api.js';
import { act, add, badge, h, idLink, jsonBlock, link, route, table, time } from '../dom.js';
import { section, slot, typeLabel } from './shared.js';

/** Deliveries per endpoint scanned for this event (newest first): enough for recent events. */
const DELIVERY_PAGES = 2;

async function timelineSection(event, signal) {
  const messageId = event.data.message_id;
  if (!messageId)
    return section('Message timeline', h('p', { class: 'muted' }, 'This event names no message id.'));
  const message = await api(`/messages/${encodeURIComponent(messageId)}`, { signal });
  return section(
    'Message timeline',
    h('p', null, 'Message ', h('code', null, messageId), ' — status ', badge(message.status)),
    h(
      'ol',
      { class: 'timeline' },
      message.events.map((e) =>
        h(
          'li',
          { class: e.id === event.id ? 'current' : null, 'aria-current': e.id === event.id ? 'true' : null },
          time(e.timestamp),
          ' ',
          e.id === event.id
            ? typeLabel(e.type)
            : link(route(`events/${encodeURIComponent(e.id)}`), typeLabel(e.type)),
          e.data.recipient ? h('span', { class: 'muted' }, ` ${e.data.recipient}`) : null,
        ),
      ),
    ),
  );
}

async function deliveriesSection(event, signal) {
  const { data: endpoints } = await api('/endpoints', { signal });
  const scans = await Promise.all(
    endpoints.map((endpoint) =>
      findInPages(
        `/endpoints/${encodeURIComponent(endpoint.id)}/deliveries`,
        { limit: 200 },
        (d) => d.event_id === event.id,
        DELIVERY_PAGES,
      ).then((scan) => ({ endpoint, ...scan })),
    ),
  );
  const rows = scans.flatMap((s) => s.found.map((d) => ({ ...d, endpoint: s.endpoint })));
  const partial = scans.filter((s) => !s.complete && s.found.length === 0);
  const redeliver = h('button', { type: 'button' }, 'Redeliver to matching endpoints');
  redeliver.addEventListener('click', () =>
    act(
      redeliver,
      () => api(`/events/${encodeURIComponent(event.id)}/redeliver`, { method: 'POST', body: {} }),
      (r) => `${r.deliveries.length} new deliveries queued`,
    ),
  );
  return section(
    'Deliveries',
    table(
      [
        {
          label: 'Delivery',
          cell: (d) => idLink(route(`deliveries/${encodeURIComponent(d.id)}`), d.id),
        },
        {
          label: 'Endpoint',
          cell: (d) =>
            link(
              route(`endpoints/${encodeURIComponent(d.endpoint.id)}`),
              d.endpoint.description || d.endpoint.url,
            ),
        },
        { label: 'Origin', cell: (d) => d.origin },
        { label: 'Status', cell: (d) => badge(d.status) },
        { label: 'Attempts', cell: (d) => String(d.attempts) },
        {
          label: 'Last answer',
          cell: (d) => (d.last_status ? String(d.last_status) : (d.last_error ?? '—')),
        },
        { label: 'Updated', class: 'nowrap', cell: (d) => time(d.updated_at) },
      ],
      rows,
      { caption: 'Deliveries of this event', empty: 'No delivery found for this event.' },
    ).el,
    partial.length
      ? h(
          'p',
          { class: 'hint' },
          `Only the newest ${DELIVERY_PAGES * 200} deliveries of each endpoint were searched; older ones are in each endpoint's attempt log.`,
        )
      : null,
    h('div', { class: 'actions' }, redeliver),
  );
}

export async function render(main, { params, signal }) {
  const event = await api(`/events/${encodeURIComponent(params.id)}`, { signal });
  const { raw, ...data } = event.data;
  const d = event.data;
  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, typeLabel(event.type), ' ', h('code', null, event.id))),
    h(
      'div',
      { class: 'grid' },
      section(
        'Summary',
        h(
          'dl',
          { class: 'props' },
          h('dt', null, 'Happened'),
          h('dd', null, time(event.timestamp)),
          h('dt', null, 'Received'),
          h('dd', null, time(d.received_at)),
          h('dt', null, 'Recipient'),
          h(
            'dd',
            null,
            d.recipient ? link(route(`recipients/${encodeURIComponent(d.recipient)}`), d.recipient) : '—',
          ),
          h('dt', null, 'Message id'),
          h('dd', null, d.message_id ? h('code', null, d.message_id) : '—'),
          h('dt', null, 'Source'),
          h(
            'dd',
            null,
            link(route(`sources/${encodeURIComponent(d.source_id)}`), d.source_id),
            ` (${d.provider})`,
          ),
          h('dt', null, 'Provider event id'),
          h('dd', null, d.provider_event_id ?? '—'),
          d.bounce
            ? [
                h('dt', null, 'Bounce'),
                h('dd', null, `${d.bounce.type} ${d.bounce.code ?? ''} ${d.bounce.reason ?? ''}`),
              ]
            : null,
          d.click ? [h('dt', null, 'Clicked URL'), h('dd', null, d.click.url)] : null,
        ),
      ),
      slot(timelineSection(event, signal)),
    ),
    h(
      'div',
      { class: 'grid' },
      section(
        'Canonical event',
        jsonBlock({ ...event, data }, 'Canonical event JSON without the raw payload'),
      ),
      section("Provider's raw payload", jsonBlock(raw ?? null, 'Raw provider payload JSON')),
    ),
    slot(deliveriesSection(event, signal)),
  );
}
