// One delivery and its attempt log (GET /v1/deliveries/:id), with a retry that waits for the new
// attempt to show up.

import { api } from '../api.js';
import { act, add, badge, copyButton, h, idText, ms, route, table, time, toast } from '../dom.js';
import { section } from './shared.js';

export function attemptsTable(attempts) {
  return table(
    [
      { label: '#', cell: (a) => String(a.attempt) },
      { label: 'Started', class: 'nowrap', cell: (a) => time(a.started_at) },
      { label: 'Result', cell: (a) => badge(a.ok ? 'succeeded' : 'failed') },
      { label: 'HTTP', cell: (a) => (a.http_status ? String(a.http_status) : '—') },
      { label: 'Duration', class: 'nowrap', cell: (a) => ms(a.duration_ms) },
      {
        label: 'Error',
        cell: (a) => (a.error ? [a.error_class ? h('code', null, a.error_class) : null, ' ', a.error] : '—'),
      },
      {
        label: 'Response',
        cell: (a) =>
          a.response_snippet ? h('code', { class: 'snippet' }, a.response_snippet.slice(0, 300)) : '—',
      },
    ],
    attempts,
    { caption: 'Attempts', empty: 'No attempt yet: the first one is made when the delivery is due.' },
  ).el;
}

/** Asks for one more attempt, then polls until the attempt count grows (or 20 s pass). */
export async function retryAndWait(id, attemptsBefore, signal) {
  await api(`/deliveries/${encodeURIComponent(id)}/retry`, { method: 'POST', body: {} });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !signal?.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const delivery = await api(`/deliveries/${encodeURIComponent(id)}`);
    if (delivery.attempts.length > attemptsBefore) return delivery;
  }
  toast('The retry is queued; no new attempt yet (is the endpoint paused?)', 'info');
  return api(`/deliveries/${encodeURIComponent(id)}`);
}

export async function render(main, { params, signal }) {
  const delivery = await api(`/deliveries/${encodeURIComponent(params.id)}`, { signal });
  const attemptsBox = h('div', { id: 'attempts' }, attemptsTable(delivery.attempts));
  const status = h('span', null, badge(delivery.status));
  const retry = h('button', { type: 'button', class: 'primary' }, 'Retry now');
  retry.addEventListener('click', async () => {
    const updated = await act(
      retry,
      () => retryAndWait(delivery.id, delivery.attempts.length, signal),
      (d) => `Attempt ${d.attempts.length}: ${d.status}`,
    );
    if (!updated) return;
    delivery.attempts = updated.attempts;
    status.replaceChildren(badge(updated.status));
    attemptsBox.replaceChildren(attemptsTable(updated.attempts));
  });
  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Delivery ', h('code', null, delivery.id)),
      h(
        'div',
        { class: 'actions' },
        copyButton(delivery.id, { text: 'Copy id', label: 'Copy id of this delivery' }),
        status,
        retry,
      ),
    ),
    section(
      'Summary',
      h(
        'dl',
        { class: 'props' },
        h('dt', null, 'Event'),
        h(
          'dd',
          null,
          idText(delivery.event_id, {
            full: true,
            label: 'event id',
            href:
              delivery.origin === 'test' ? null : route(`events/${encodeURIComponent(delivery.event_id)}`),
          }),
        ),
        h('dt', null, 'Endpoint'),
        h(
          'dd',
          null,
          idText(delivery.endpoint_id, {
            full: true,
            label: 'endpoint id',
            href: route(`endpoints/${encodeURIComponent(delivery.endpoint_id)}`),
          }),
        ),
        h('dt', null, 'Origin'),
        h('dd', null, delivery.origin),
        h('dt', null, 'Next attempt'),
        h('dd', null, time(delivery.next_attempt_at)),
        h('dt', null, 'Created'),
        h('dd', null, time(delivery.created_at)),
        h('dt', null, 'Completed'),
        h('dd', null, time(delivery.completed_at)),
      ),
    ),
    section('Attempt log', attemptsBox),
  );
}
