// One event: its canonical form, the provider's raw payload, the message's timeline and the
// deliveries made for it.

import { api, findInPages } from '../api.js';
import {
  act,
  add,
  badge,
  copyButton,
  h,
  idLink,
  idText,
  jsonBlock,
  link,
  route,
  table,
  time,
} from '../dom.js';
import { dataField, PSEUDO_SOURCES, section, slot, sourceLink, typeLabel } from './shared.js';

/** Deliveries per endpoint scanned for this event (newest first): enough for recent events. */
const DELIVERY_PAGES = 2;

async function timelineSection(event, signal) {
  const messageId = dataField(event, 'message_id');
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
          dataField(e, 'recipient') ? h('span', { class: 'muted' }, ` ${dataField(e, 'recipient')}`) : null,
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
    rows.length === 0 && !partial.length
      ? h(
          'p',
          { class: 'hint' },
          endpoints.length
            ? 'Endpoints get an event when its type and filter match theirs; redeliver sends it to those that match now.'
            : [
                'No endpoint exists yet: ',
                link(route('endpoints', { add: 1 }), 'add one'),
                ' to receive events.',
              ],
        )
      : null,
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

/** What a system event is about: the endpoint, delivery, event or source named in its metadata. */
function systemSubjects(metadata) {
  const links = [];
  const add = (label, id, path) => {
    if (typeof id === 'string' && id)
      links.push([
        label,
        idText(id, { href: route(`${path}/${encodeURIComponent(id)}`), label: `${label} id`, full: true }),
      ]);
  };
  add('endpoint', metadata?.endpoint_id, 'endpoints');
  add('delivery', metadata?.delivery_id, 'deliveries');
  add('event', metadata?.event_id, 'events');
  add('source', metadata?.source_id, 'sources');
  return links;
}

function sourceOf(event) {
  const id = dataField(event, 'source_id');
  const provider = dataField(event, 'provider');
  if (!id) return '—';
  return [sourceLink(null, id), provider && !PSEUDO_SOURCES[id] ? ` (${provider})` : null];
}

export async function render(main, { params, signal }) {
  const event = await api(`/events/${encodeURIComponent(params.id)}`, { signal });
  // Published events of their own types carry exactly the data they were given, of any shape.
  const d = event.data && typeof event.data === 'object' && !Array.isArray(event.data) ? event.data : {};
  const { raw, ...data } = d;
  const isEmail = event.type.startsWith('email.');
  const recipient = dataField(event, 'recipient');
  const messageId = dataField(event, 'message_id');
  const subjects = event.type.startsWith('system.') ? systemSubjects(d.metadata) : [];
  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, typeLabel(event.type), ' ', h('code', null, event.id)),
      h(
        'div',
        { class: 'actions' },
        copyButton(event.id, { text: 'Copy id', label: 'Copy id of this event' }),
      ),
    ),
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
          h('dd', null, time(dataField(event, 'received_at'))),
          h('dt', null, 'Recipient'),
          h(
            'dd',
            null,
            recipient ? link(route(`recipients/${encodeURIComponent(recipient)}`), recipient) : '—',
          ),
          h('dt', null, 'Message id'),
          h('dd', null, messageId ? idText(messageId, { full: true, label: 'message id' }) : '—'),
          h('dt', null, 'Source'),
          h('dd', null, sourceOf(event)),
          subjects.flatMap(([label, node]) => [h('dt', null, `About ${label}`), h('dd', null, node)]),
          isEmail || d.provider_event_id
            ? [
                h('dt', null, 'Provider event id'),
                h('dd', null, dataField(event, 'provider_event_id') ?? '—'),
              ]
            : null,
          d.bounce
            ? [
                h('dt', null, 'Bounce'),
                h('dd', null, `${d.bounce.type} ${d.bounce.code ?? ''} ${d.bounce.reason ?? ''}`),
              ]
            : null,
          d.click?.url ? [h('dt', null, 'Clicked URL'), h('dd', null, String(d.click.url))] : null,
        ),
      ),
      slot(timelineSection(event, signal)),
    ),
    h(
      'div',
      { class: 'grid' },
      section(
        isEmail ? 'Canonical event' : 'Event',
        jsonBlock(
          { ...event, data: event.data && typeof event.data === 'object' ? data : event.data },
          'Canonical event JSON without the raw payload',
        ),
      ),
      isEmail || (raw !== undefined && raw !== null)
        ? section("Provider's raw payload", jsonBlock(raw ?? null, 'Raw provider payload JSON'))
        : null,
    ),
    slot(deliveriesSection(event, signal)),
  );
}
