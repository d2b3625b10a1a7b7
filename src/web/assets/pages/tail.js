// Live tail: the newest events, then every new one as it is stored, read from
// GET /v1/events/stream (Server-Sent Events over fetch, key in the header). If the stream route is
// missing (an older server), it polls GET /v1/events every 2 s instead.

import { api, readEventStream } from '../api.js';
import { add, emptyState, field, formValues, h, route, table } from '../dom.js';
import { eventColumns, eventsNextStep, loadSources, sourceSelect, typeSelect } from './shared.js';

const KEEP = 300;
const BACKLOG = 20;
const POLL_MS = 2000;
const RECONNECT_MS = 2000;

function filtersOf(query) {
  return {
    type: query.get('type') ?? '',
    recipient: query.get('recipient') ?? '',
    source_id: query.get('source_id') ?? '',
    message_id: query.get('message_id') ?? '',
  };
}

export async function render(main, { query, signal, go }) {
  const filters = filtersOf(query);
  const sources = await loadSources(signal);
  const form = h(
    'form',
    { class: 'filters card', 'aria-label': 'Tail filters' },
    field('Type', typeSelect(filters.type)),
    field(
      'Recipient',
      h('input', {
        name: 'recipient',
        type: 'text',
        value: filters.recipient,
        placeholder: 'user@example.com',
      }),
    ),
    field('Source', sourceSelect(sources, filters.source_id)),
    field('Message id', h('input', { name: 'message_id', type: 'text', value: filters.message_id })),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(route('tail', formValues(form)));
  });

  const dot = h('span', { class: 'live-dot', 'aria-hidden': 'true' });
  const state = h('span', { id: 'tail-state' }, 'Connecting…');
  const count = h('span', { class: 'muted' });
  let paused = false;
  const held = [];
  const pause = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const filtered = Object.values(filters).some(Boolean);
  const list = table(eventColumns(sources), [], {
    caption: 'Live events, newest first',
    empty: filtered
      ? 'Waiting for events that match these filters…'
      : emptyState(
          'Waiting for events: each one shows here as soon as it is stored.',
          eventsNextStep(sources),
        ),
  });
  list.el.setAttribute('aria-live', 'off');
  list.el.id = 'tail-table';
  const seen = new Set();
  let received = 0;

  /** `events` oldest first; the newest ends up on top. */
  const show = (events, fresh) => {
    const nodes = list.addRows([...events].reverse(), { prepend: true });
    if (fresh) for (const n of nodes) n.classList.add('fresh');
    while (list.tbody.children.length > KEEP) list.tbody.lastElementChild.remove();
  };
  const addEvents = (events, fresh = true) => {
    const unseen = events.filter((e) => !seen.has(e.id));
    for (const e of unseen) seen.add(e.id);
    if (unseen.length === 0) return;
    received += fresh ? unseen.length : 0;
    count.textContent = `${received} new since opened`;
    if (paused) held.push(...unseen);
    else show(unseen, fresh);
  };
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused && held.length) show(held.splice(0), true);
  });
  const clearButton = h(
    'button',
    {
      type: 'button',
      onclick: () => list.setRows([]),
    },
    'Clear',
  );
  const setState = (text, kind) => {
    state.textContent = text;
    dot.className = `live-dot ${kind}`;
  };

  add(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Live tail'),
      h('div', { class: 'actions' }, dot, state, count, pause, clearButton),
    ),
    form,
    h('div', { class: 'card' }, list.el),
  );

  const apiFilters = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
  // The newest few first (oldest at the bottom), so the page is never empty when events exist.
  const backlog = await api('/events', { query: { ...apiFilters, limit: BACKLOG }, signal });
  addEvents([...backlog.data].reverse(), false);

  const sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });

  async function poll() {
    setState('Polling every 2 s', 'on');
    while (!signal.aborted) {
      try {
        const page = await api('/events', { query: { ...apiFilters, limit: 100 }, signal });
        addEvents([...page.data].reverse());
        setState('Polling every 2 s', 'on');
      } catch (err) {
        if (signal.aborted) return;
        setState(`Polling failed (${err.message}); retrying`, 'off');
      }
      await sleep(POLL_MS);
    }
  }

  (async () => {
    let lastEventId = null;
    while (!signal.aborted) {
      try {
        await readEventStream({
          query: apiFilters,
          lastEventId,
          signal,
          onOpen: () => setState('Live', 'on'),
          // The stream's own ids resume exactly where it stopped (event ids are not in stored order).
          onId: (id) => {
            lastEventId = id;
          },
          onEvent: (event) => addEvents([event]),
        });
        if (signal.aborted) return;
        setState('Stream ended; reconnecting…', 'off');
      } catch (err) {
        if (signal.aborted || err.name === 'AbortError') return;
        if (err.status === 404) return poll();
        if (err.status === 401) return;
        setState(`Disconnected (${err.message}); reconnecting…`, 'off');
      }
      await sleep(RECONNECT_MS);
    }
  })();
}
