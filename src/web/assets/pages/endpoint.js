// One endpoint: health, secret (reveal, rotate), test send, pause/resume, the attempt log with
// retries, replay of a time range with progress, and the edit form.

import { api } from '../api.js';
import { rateMeter } from '../chart.js';
import {
  act,
  add,
  ago,
  badge,
  command,
  copyButton,
  emptyState,
  field,
  fromLocalInput,
  h,
  idText,
  ms,
  route,
  select,
  table,
  time,
  toast,
  toLocalInput,
} from '../dom.js';
import { attemptsTable, retryAndWait } from './delivery.js';
import { endpointForm } from './endpoint-form.js';
import { createdSecrets } from './endpoints.js';
import { historySection } from './history.js';
import { EMAIL_TYPES, pageControls, section, slot } from './shared.js';

function healthSection(health) {
  const windows = [
    ['Last hour', health.windows['1h']],
    ['Last 24 hours', health.windows['24h']],
  ];
  return section(
    'Health',
    h(
      'p',
      null,
      'State ',
      badge(health.state),
      ` · ${health.consecutive_failures} consecutive failure${health.consecutive_failures === 1 ? '' : 's'} · last success ${ago(health.last_success_at)}`,
    ),
    table(
      [
        { label: 'Window', cell: (w) => w[0] },
        { label: 'Attempts', cell: (w) => String(w[1].attempts) },
        {
          label: 'Success rate',
          cell: (w) => rateMeter(w[1].success_rate, `success rate, ${w[0].toLowerCase()}`),
        },
        { label: 'p50', class: 'nowrap', cell: (w) => ms(w[1].latency_ms.p50) },
        { label: 'p95', class: 'nowrap', cell: (w) => ms(w[1].latency_ms.p95) },
        { label: 'p99', class: 'nowrap', cell: (w) => ms(w[1].latency_ms.p99) },
      ],
      windows,
      { caption: 'Delivery success and latency' },
    ).el,
  );
}

function secretSection(endpoint) {
  const path = `/endpoints/${encodeURIComponent(endpoint.id)}`;
  const shown = h('div', { class: 'secret', 'aria-live': 'polite' });
  const justCreated = createdSecrets.get(endpoint.id);
  createdSecrets.delete(endpoint.id);
  const show = (secret, note) =>
    shown.replaceChildren(
      h('code', { id: 'endpoint-secret' }, secret),
      copyButton(secret, { text: 'Copy', label: 'Copy signing secret' }),
      note ? h('span', { class: 'hint' }, note) : null,
    );
  if (justCreated) show(justCreated, 'The new endpoint\u2019s signing secret: give it to the receiver.');
  const reveal = h('button', { type: 'button', 'aria-expanded': 'false' }, 'Reveal secret');
  reveal.addEventListener('click', async () => {
    if (reveal.getAttribute('aria-expanded') === 'true') {
      shown.replaceChildren();
      reveal.setAttribute('aria-expanded', 'false');
      reveal.textContent = 'Reveal secret';
      return;
    }
    const result = await act(reveal, () => api(`${path}/secret`));
    if (!result) return;
    show(
      result.secret,
      result.previous.length
        ? `A previous secret still signs until ${new Date(result.previous[0].expires_at).toLocaleString()}.`
        : null,
    );
    reveal.setAttribute('aria-expanded', 'true');
    reveal.textContent = 'Hide secret';
  });
  const grace = select(
    'grace_seconds',
    [
      ['0', 'at once'],
      ['3600', 'after 1 hour'],
      ['86400', 'after 24 hours'],
    ],
    '86400',
  );
  const rotate = h('button', { type: 'button' }, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    if (!window.confirm('Make a new signing secret? The receiver must accept it before the old one stops.'))
      return;
    const result = await act(
      rotate,
      () => api(`${path}/rotate-secret`, { method: 'POST', body: { grace_seconds: Number(grace.value) } }),
      'Secret rotated',
    );
    if (result)
      show(
        result.secret,
        result.previous_expires_at
          ? `The old secret keeps signing until ${new Date(result.previous_expires_at).toLocaleString()}.`
          : 'The old secret no longer signs.',
      );
  });
  return section(
    'Signing secret',
    h(
      'p',
      { class: 'hint' },
      'Deliveries are signed with Standard Webhooks; the receiver verifies them with this secret.',
    ),
    shown,
    h('div', { class: 'filters' }, reveal, field('Old secret stops', grace), rotate),
  );
}

function replaySection(endpoint) {
  const since = h('input', {
    type: 'datetime-local',
    name: 'since',
    required: true,
    value: toLocalInput(Date.now() - 3_600_000),
  });
  const until = h('input', { type: 'datetime-local', name: 'until', value: toLocalInput(Date.now()) });
  const types = h('input', { type: 'text', name: 'types', placeholder: 'email.bounced, email.complained' });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Replay progress' });
  const status = h('p', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Replay');
  const form = h(
    'form',
    { 'aria-label': 'Replay a time range', class: 'filters' },
    field('From', since),
    field('Until', until),
    field('Only these types (optional)', types),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const list = types.value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const replay = await act(submit, () =>
      api(`/endpoints/${encodeURIComponent(endpoint.id)}/replay`, {
        method: 'POST',
        body: {
          since: fromLocalInput(since.value),
          ...(until.value && { until: fromLocalInput(until.value) }),
          ...(list.length && { types: list }),
        },
      }),
    );
    if (!replay) return;
    progress.hidden = false;
    progress.removeAttribute('value'); // indeterminate until the scan finishes: the total is unknown
    const poll = async () => {
      const r = await api(
        `/endpoints/${encodeURIComponent(endpoint.id)}/replays/${encodeURIComponent(replay.id)}`,
      );
      status.textContent = `${r.status}: ${r.scanned} events scanned, ${r.enqueued} deliveries queued, ${r.skipped} skipped`;
      if (r.status === 'running') setTimeout(poll, 1000);
      else {
        progress.value = 1;
        toast(`Replay ${r.status}: ${r.enqueued} deliveries queued`, 'success');
      }
    };
    poll().catch((err) => toast(err.message, 'error'));
  });
  return section(
    'Replay a time range',
    h('p', { class: 'hint' }, 'Sends stored events of the range again to this endpoint, in the background.'),
    form,
    progress,
    status,
  );
}

const PAGE_SIZES = ['25', '50', '100', '200'];
const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'];

/** Columns of the attempt log; `refresh(tr, delivery)` redraws one row after a retry. */
function deliveryColumns(signal, refresh) {
  return [
    { label: 'Created', class: 'nowrap', cell: (d) => time(d.created_at) },
    {
      label: 'Delivery',
      cell: (d) =>
        idText(d.id, { href: route(`deliveries/${encodeURIComponent(d.id)}`), label: 'delivery id' }),
    },
    {
      label: 'Event',
      // A test send's sample event is not stored: there is no page to link to.
      cell: (d) =>
        idText(d.event_id, {
          href: d.origin === 'test' ? null : route(`events/${encodeURIComponent(d.event_id)}`),
          label: 'event id',
        }),
    },
    { label: 'Origin', cell: (d) => d.origin },
    {
      label: 'Status, last answer',
      cell: (d) => [
        badge(d.status),
        d.last_status || d.last_error
          ? h('div', { class: 'muted' }, d.last_status ? `HTTP ${d.last_status}` : d.last_error)
          : null,
      ],
    },
    {
      label: 'Finished / next try',
      class: 'nowrap',
      cell: (d) =>
        d.status === 'pending'
          ? d.next_attempt_at
            ? h('span', null, 'next ', time(d.next_attempt_at))
            : '—'
          : time(d.completed_at ?? d.updated_at),
    },
    { label: 'Attempts', cell: (d) => attemptsToggle(d, signal) },
    { label: '', cell: (d) => retryButton(d, signal, refresh) },
  ];
}

async function deliveriesSection(endpoint, query, signal, go) {
  const status = DELIVERY_STATUSES.includes(query.get('status')) ? query.get('status') : '';
  const limit = PAGE_SIZES.includes(query.get('per_page')) ? query.get('per_page') : '50';
  const path = `/endpoints/${encodeURIComponent(endpoint.id)}/deliveries`;
  const fetchPage = (cursor) => api(path, { query: { status, limit, cursor }, signal });
  const first = await fetchPage();
  let list;
  const refresh = (tr, delivery) => {
    const replacement = list.makeRow(delivery);
    tr.replaceWith(replacement);
    return replacement;
  };
  const empty = status
    ? `No ${status} deliveries.`
    : emptyState(
        'No deliveries yet: each event that matches this endpoint is delivered as soon as it is stored.',
        h('p', null, 'Send a test event with the button at the top of the page, or from a terminal:'),
        command(`mailhook endpoints test ${endpoint.id}`),
      );
  list = table(deliveryColumns(signal, refresh), first.data, {
    caption: 'Deliveries, newest first',
    empty,
  });
  const reload = (values) =>
    go(route(`endpoints/${encodeURIComponent(endpoint.id)}`, { status, per_page: limit, ...values }));
  const filter = select('status', [['', 'all'], ...DELIVERY_STATUSES], status);
  filter.addEventListener('change', () => reload({ status: filter.value }));
  const size = select('per_page', PAGE_SIZES, limit);
  size.addEventListener('change', () => reload({ per_page: size.value }));
  const pages = pageControls(
    fetchPage,
    (rows) => {
      list.setRows(rows);
      list.tbody.querySelector('a, button')?.scrollIntoView({ block: 'nearest' });
    },
    first,
    { noun: 'deliveries', pageSize: Number(limit) },
  );
  return section(
    'Attempt log',
    h(
      'p',
      { class: 'hint' },
      'One row per delivery of an event to this endpoint, newest first; open a row\u2019s attempts to see each try with its time, answer and duration.',
    ),
    h('div', { class: 'filters' }, field('Status', filter), field('Per page', size)),
    list.el,
    pages,
  );
}

/** "N attempts": shows that delivery's attempt log in a row under it. */
function attemptsToggle(delivery, signal) {
  const label = `${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}`;
  const button = h(
    'button',
    { type: 'button', class: 'small', 'aria-expanded': 'false', 'data-delivery': delivery.id },
    label,
  );
  const detailOf = (tr) =>
    tr.nextElementSibling?.classList.contains('detail') ? tr.nextElementSibling : null;
  const show = async () => {
    const tr = button.closest('tr');
    if (!tr) return;
    const cell = h(
      'td',
      { colspan: tr.children.length, role: 'cell' },
      h('p', { class: 'loading' }, 'Loading…'),
    );
    const detail = h('tr', { class: 'detail', role: 'row', id: `attempts-${delivery.id}` }, cell);
    detailOf(tr)?.remove();
    tr.after(detail);
    button.setAttribute('aria-expanded', 'true');
    button.setAttribute('aria-controls', detail.id);
    try {
      const full = await api(`/deliveries/${encodeURIComponent(delivery.id)}`, { signal });
      cell.replaceChildren(attemptsTable(full.attempts));
    } catch (err) {
      if (err.name !== 'AbortError') cell.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  };
  button.addEventListener('click', () => {
    const tr = button.closest('tr');
    if (button.getAttribute('aria-expanded') === 'true') {
      detailOf(tr)?.remove();
      button.setAttribute('aria-expanded', 'false');
      button.removeAttribute('aria-controls');
      return;
    }
    show();
  });
  return button;
}

function retryButton(delivery, signal, refresh) {
  const button = h(
    'button',
    { type: 'button', class: 'small', 'aria-label': `Retry delivery ${delivery.id}` },
    'Retry',
  );
  button.addEventListener('click', async () => {
    const updated = await act(
      button,
      () => retryAndWait(delivery.id, delivery.attempts, signal),
      (d) => `Attempt ${d.attempts.length}: ${d.status}`,
    );
    if (!updated) return;
    const tr = button.closest('tr');
    const next = { ...updated, attempts: updated.attempts.length };
    tr.nextElementSibling?.classList.contains('detail') && tr.nextElementSibling.remove();
    const row = refresh(tr, next);
    // Show the new attempt at once, and keep keyboard focus on this row's Retry button.
    row.querySelector('[aria-expanded]')?.click();
    row.querySelector('button[aria-label^="Retry"]')?.focus();
  });
  return button;
}

export async function render(main, ctx) {
  const { params, query, signal, go } = ctx;
  const path = `/endpoints/${encodeURIComponent(params.id)}`;
  const [endpoint, health] = await Promise.all([api(path, { signal }), api(`${path}/health`, { signal })]);
  const rerender = async () => {
    main.replaceChildren();
    await render(main, ctx);
  };

  const paused = endpoint.status !== 'active';
  const toggle = h('button', { type: 'button', id: 'pause-toggle' }, paused ? 'Resume' : 'Pause');
  toggle.addEventListener('click', async () => {
    const done = await act(
      toggle,
      () => api(`${path}/${paused ? 'resume' : 'pause'}`, { method: 'POST', body: {} }),
      paused ? 'Endpoint resumed' : 'Endpoint paused',
    );
    if (done) await rerender();
  });
  const testType = select('type', EMAIL_TYPES, 'email.delivered');
  testType.setAttribute('aria-label', 'Test event type');
  const test = h('button', { type: 'button' }, 'Send test event');
  test.addEventListener('click', () =>
    act(
      test,
      () => api(`${path}/test`, { method: 'POST', body: { type: testType.value } }),
      (r) => `Test event queued as ${r.delivery_id}`,
    ),
  );
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!window.confirm('Delete this endpoint? Its pending deliveries end as failed.')) return;
    const done = await act(remove, () => api(path, { method: 'DELETE' }), 'Endpoint deleted');
    if (done !== undefined) go('#/endpoints');
  });

  const edit = endpointForm({
    endpoint,
    submitLabel: 'Save changes',
    onSubmit: async (body) => {
      await api(path, { method: 'PATCH', body });
      toast('Endpoint saved', 'success');
      await rerender();
    },
  });

  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, endpoint.url),
      h(
        'div',
        { class: 'actions' },
        h('span', { id: 'endpoint-status' }, badge(endpoint.status)),
        toggle,
        testType,
        test,
        remove,
      ),
    ),
    h('p', { class: 'page-id' }, 'Endpoint ', idText(endpoint.id, { full: true, label: 'endpoint id' })),
    endpoint.status_reason ? h('p', { class: 'muted' }, `Status reason: ${endpoint.status_reason}`) : null,
    h('div', { class: 'grid' }, healthSection(health), secretSection(endpoint)),
    historySection({
      title: 'Attempts per hour',
      caption: 'Delivery attempts per hour',
      path: `${path}/history`,
      signal,
      series: [
        { key: 'succeeded', label: 'succeeded', class: 's-ok' },
        { key: 'failed', label: 'failed', class: 's-bad' },
      ],
      counts: (row) => ({ succeeded: row.succeeded, failed: row.attempts - row.succeeded }),
      columns: [
        {
          label: 'Mean duration',
          value: (b) => (b.row?.avg_ms === null || b.row?.avg_ms === undefined ? '—' : ms(b.row.avg_ms)),
        },
      ],
      summary: (buckets, period) => {
        const attempts = buckets.reduce((n, b) => n + (b.row?.attempts ?? 0), 0);
        const succeeded = buckets.reduce((n, b) => n + (b.row?.succeeded ?? 0), 0);
        return attempts
          ? `${attempts} attempt${attempts === 1 ? '' : 's'} in the ${period}, ${Math.round((succeeded / attempts) * 1000) / 10}% succeeded.`
          : `No attempts in the ${period}.`;
      },
      empty: () => 'Nothing was sent to this endpoint in this period: use "Send test event" above to try it.',
    }),
    slot(deliveriesSection(endpoint, query, signal, go)),
    h(
      'div',
      { class: 'grid' },
      replaySection(endpoint),
      section(
        'Edit',
        h('details', null, h('summary', null, 'Change URL, types, filter, headers, limits'), edit),
      ),
    ),
  );
}
