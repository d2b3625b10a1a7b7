// Overview: events by type over time (GET /v1/stats per interval), delivery health per endpoint,
// sources with their last event, and the newest quarantined inbox rows.

import { api } from '../api.js';
import { rateMeter, stackedBars } from '../chart.js';
import { add, ago, badge, command, emptyState, h, link, ms, pct, route, table, time } from '../dom.js';
import { dataField, EMAIL_TYPES, section, slot, sourceState } from './shared.js';

const MINUTE = 60_000;
const RANGES = {
  hour: { label: 'Last hour', buckets: 12, size: 5 * MINUTE },
  day: { label: 'Last day', buckets: 24, size: 60 * MINUTE },
  week: { label: 'Last week', buckets: 7, size: 24 * 60 * MINUTE },
};
/** Overview rows per list: the pages behind them paginate; this one only summarises. */
const MAX_ROWS = 20;

const pad = (n) => String(n).padStart(2, '0');

function bucketLabel(start, range) {
  const d = new Date(start);
  if (range === 'week') return `${d.getMonth() + 1}/${d.getDate()}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** One stats call per interval (group_by=type), so the chart shows each type over time. */
async function eventsOverTime(rangeKey, signal) {
  const range = RANGES[rangeKey];
  // Intervals end on a boundary of their size, so repeated visits ask the same questions.
  const end = Math.ceil(Date.now() / range.size) * range.size;
  const starts = Array.from({ length: range.buckets }, (_, i) => end - (range.buckets - i) * range.size);
  const results = await Promise.all(
    starts.map((start) =>
      api('/stats', {
        query: {
          group_by: 'type',
          since: new Date(start).toISOString(),
          until: new Date(start + range.size).toISOString(),
        },
        signal,
      }),
    ),
  );
  return starts.map((start, i) => {
    const counts = {};
    for (const group of results[i].groups)
      for (const [type, n] of Object.entries(group.counts)) counts[type] = (counts[type] ?? 0) + n;
    return {
      label: bucketLabel(start, rangeKey),
      title: `${new Date(start).toLocaleString()} – ${new Date(start + range.size).toLocaleTimeString()}`,
      counts,
    };
  });
}

function stat(label, value, detail) {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'value' }, value),
    h('span', { class: 'label' }, label),
    detail ? h('span', { class: 'hint' }, detail) : null,
  );
}

async function chartSection(rangeKey, signal) {
  const buckets = await eventsOverTime(rangeKey, signal);
  const totals = {};
  for (const b of buckets) for (const [t, n] of Object.entries(b.counts)) totals[t] = (totals[t] ?? 0) + n;
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  const sent = Math.max(
    totals['email.sent'] ?? 0,
    (totals['email.delivered'] ?? 0) + (totals['email.bounced'] ?? 0) + (totals['email.dropped'] ?? 0),
  );
  const rate = (n) => (sent > 0 ? n / sent : null);
  const types = [
    ...EMAIL_TYPES,
    ...Object.keys(totals)
      .filter((t) => !EMAIL_TYPES.includes(t))
      .sort(),
  ];
  return [
    h(
      'div',
      { class: 'stats' },
      stat('events', String(all)),
      stat(
        'delivered',
        String(totals['email.delivered'] ?? 0),
        `${pct(rate(totals['email.delivered'] ?? 0))} of sent`,
      ),
      stat(
        'bounced',
        String(totals['email.bounced'] ?? 0),
        `${pct(rate(totals['email.bounced'] ?? 0))} of sent`,
      ),
      stat('complaints', String(totals['email.complained'] ?? 0)),
      stat('opened', String(totals['email.opened'] ?? 0)),
      stat('clicked', String(totals['email.clicked'] ?? 0)),
    ),
    section(
      'Events by type',
      stackedBars({
        buckets,
        types,
        caption: `Events per type, ${RANGES[rangeKey].label.toLowerCase()}`,
        empty: [
          h('p', null, 'No events in this period.'),
          all === 0 ? h('p', null, link('#/events', 'How to send the first one')) : null,
        ],
      }),
    ),
  ];
}

async function endpointsSection(signal) {
  const { data } = await api('/endpoints', { signal });
  const shown = data.slice(0, MAX_ROWS);
  const health = await Promise.all(
    shown.map((e) => api(`/endpoints/${encodeURIComponent(e.id)}/health`, { signal }).catch(() => null)),
  );
  const rows = shown.map((e, i) => ({ endpoint: e, health: health[i] }));
  return section(
    'Endpoints',
    table(
      [
        {
          label: 'Endpoint',
          cell: (r) =>
            link(
              route(`endpoints/${encodeURIComponent(r.endpoint.id)}`),
              r.endpoint.description || r.endpoint.url,
            ),
        },
        { label: 'State', cell: (r) => badge(r.health?.state ?? r.endpoint.status) },
        {
          label: 'Success (24 h)',
          cell: (r) => rateMeter(r.health?.windows['24h'].success_rate, 'success rate over 24 hours'),
        },
        { label: 'p95', class: 'nowrap', cell: (r) => ms(r.health?.windows['24h'].latency_ms.p95) },
        { label: 'Last success', class: 'nowrap', cell: (r) => ago(r.endpoint.last_success_at) },
      ],
      rows,
      {
        caption: 'Endpoints and their delivery health',
        empty: emptyState(
          'No endpoints yet: events are stored, but sent nowhere.',
          h('p', null, link(route('endpoints', { add: 1 }), 'Add an endpoint'), ', or from a terminal:'),
          command('mailhook endpoints add https://example.com/hooks/email'),
        ),
      },
    ).el,
    data.length > MAX_ROWS ? h('p', null, link('#/endpoints', `All ${data.length} endpoints`)) : null,
  );
}

async function sourcesSection(signal) {
  const { data } = await api('/sources', { signal });
  const shown = data.slice(0, MAX_ROWS);
  const last = await Promise.all(
    shown.map((s) =>
      api('/events', { query: { source_id: s.id, limit: 1 }, signal }).then(
        (r) => r.data[0] ?? null,
        () => null,
      ),
    ),
  );
  return section(
    'Sources',
    table(
      [
        {
          label: 'Source',
          cell: (r) => link(route(`sources/${encodeURIComponent(r.source.id)}`), r.source.name),
        },
        { label: 'Provider', cell: (r) => r.source.provider },
        { label: 'State', cell: (r) => sourceState(r.source) },
        {
          label: 'Last event',
          class: 'nowrap',
          cell: (r) => (r.last ? ago(dataField(r.last, 'received_at') ?? r.last.timestamp) : 'never'),
        },
      ],
      shown.map((source, i) => ({ source, last: last[i] })),
      {
        caption: 'Sources and their last event',
        empty: emptyState(
          'No sources yet: a source is the URL an email provider posts its events to.',
          h('p', null, link(route('sources', { add: 1 }), 'Add a source'), ', or from a terminal:'),
          command('mailhook sources add --name "SendGrid production" --provider sendgrid'),
        ),
      },
    ).el,
  );
}

async function quarantineSection(signal) {
  const { data, next_cursor } = await api('/inbox', { query: { status: 'quarantined', limit: 5 }, signal });
  return section(
    'Quarantined requests',
    table(
      [
        { label: 'Received', class: 'nowrap', cell: (r) => time(r.received_at) },
        { label: 'Provider', cell: (r) => r.provider },
        {
          label: 'Error',
          cell: (r) => link(route(`inbox/${encodeURIComponent(r.id)}`), r.error ?? '(no message)'),
        },
      ],
      data,
      {
        caption: 'Newest quarantined inbox rows',
        empty: 'Nothing quarantined: every verified request was parsed.',
      },
    ).el,
    data.length > 0
      ? h('p', null, link('#/quarantine', next_cursor ? 'See all quarantined rows' : 'Open the quarantine'))
      : null,
  );
}

export async function render(main, { query, signal }) {
  const rangeKey = RANGES[query.get('range')] ? query.get('range') : 'day';
  const ranges = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Period' },
    Object.entries(RANGES).map(([key, r]) =>
      h(
        'a',
        { href: route('overview', { range: key }), 'aria-current': key === rangeKey ? 'true' : null },
        r.label,
      ),
    ),
  );
  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Overview'), ranges),
    slot(chartSection(rangeKey, signal)),
    h('div', { class: 'grid' }, slot(endpointsSection(signal)), slot(sourcesSection(signal))),
    h('div', { class: 'grid' }, slot(quarantineSection(signal))),
  );
}
