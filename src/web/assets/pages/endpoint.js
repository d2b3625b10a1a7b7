// One endpoint: health, secret (reveal, rotate), test send, pause/resume, the attempt log with
// retries, replay of a time range with progress, and the edit form.

import { api } from '../api.js';
import { rateMeter } from '../chart.js';
import {
  act,
  add,
  ago,
  badge,
  field,
  fromLocalInput,
  h,
  idLink,
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
import { EMAIL_TYPES, pager, section, slot } from './shared.js';

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
      ` · ${health.consecutive_failures} consecutive failures · last success ${ago(health.last_success_at)}`,
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

async function deliveriesSection(endpoint, query, signal, go) {
  const status = query.get('status') ?? '';
  const path = `/endpoints/${encodeURIComponent(endpoint.id)}/deliveries`;
  const first = await api(path, { query: { status, limit: 50 }, signal });
  const columns = [
    {
      label: 'Delivery',
      cell: (d) => idLink(route(`deliveries/${encodeURIComponent(d.id)}`), d.id),
    },
    {
      label: 'Event',
      cell: (d) => idLink(route(`events/${encodeURIComponent(d.event_id)}`), d.event_id),
    },
    { label: 'Origin', cell: (d) => d.origin },
    { label: 'Status', cell: (d) => badge(d.status) },
    { label: 'Last answer', cell: (d) => (d.last_status ? String(d.last_status) : (d.last_error ?? '—')) },
    {
      label: 'Next try',
      class: 'nowrap',
      cell: (d) => (d.status === 'pending' ? time(d.next_attempt_at) : '—'),
    },
    { label: '', cell: (d) => retryButton(d, signal) },
    // Last: it expands into the attempt table, which needs the width.
    { label: 'Attempts', cell: (d) => attemptsCell(d, signal) },
  ];
  const list = table(columns, first.data, {
    caption: 'Deliveries, newest first',
    empty: 'No deliveries yet.',
  });
  const filter = select('status', [['', 'all'], 'pending', 'succeeded', 'failed'], status);
  filter.addEventListener('change', () =>
    go(route(`endpoints/${encodeURIComponent(endpoint.id)}`, { status: filter.value })),
  );
  return section(
    'Attempt log',
    h('div', { class: 'filters' }, field('Status', filter)),
    h('div', { class: 'table-wrap' }, list.el),
    pager((cursor) => api(path, { query: { status, limit: 50, cursor } }), list.addRows, first.next_cursor),
  );
}

/** The attempt count, expandable into the attempt log of that delivery. */
function attemptsCell(delivery, signal) {
  const body = h('div');
  const details = h(
    'details',
    { 'data-delivery': delivery.id },
    h('summary', null, `${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}`),
    body,
  );
  details.addEventListener('toggle', async () => {
    if (!details.open || body.childElementCount) return;
    try {
      const full = await api(`/deliveries/${encodeURIComponent(delivery.id)}`, { signal });
      body.replaceChildren(attemptsTable(full.attempts));
    } catch (err) {
      body.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  });
  return details;
}

function retryButton(delivery, signal) {
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
    const row = button.closest('tr');
    const cells = row.querySelectorAll('td');
    delivery.attempts = updated.attempts.length;
    cells[3].replaceChildren(badge(updated.status));
    cells[7].replaceChildren(attemptsCell(delivery, signal));
    const last = updated.attempts.at(-1);
    cells[4].replaceChildren(last?.http_status ? String(last.http_status) : (last?.error ?? '—'));
    cells[7].querySelector('details').open = true;
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
    endpoint.status_reason ? h('p', { class: 'muted' }, `Status reason: ${endpoint.status_reason}`) : null,
    h('div', { class: 'grid' }, healthSection(health), secretSection(endpoint)),
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
