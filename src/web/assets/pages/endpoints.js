// Endpoints: the list with each one's health, and the form to add one. The new endpoint's secret is
// shown once on its page (handed over in memory, never through the URL).

import { api } from '../api.js';
import { rateMeter } from '../chart.js';
import { add, ago, badge, breakable, command, emptyState, h, link, ms, route, table, toast } from '../dom.js';
import { endpointForm } from './endpoint-form.js';
import { section } from './shared.js';

/** The secret of an endpoint just created, for its page to show once. */
export const createdSecrets = new Map();

export async function render(main, { signal, go, query }) {
  const { data } = await api('/endpoints', { signal });
  const health = await Promise.all(
    data.map((e) => api(`/endpoints/${encodeURIComponent(e.id)}/health`, { signal }).catch(() => null)),
  );
  const rows = data.map((endpoint, i) => ({ endpoint, health: health[i] }));
  const list = table(
    [
      {
        label: 'Endpoint',
        cell: (r) => [
          link(route(`endpoints/${encodeURIComponent(r.endpoint.id)}`), breakable(r.endpoint.url, '/?&')),
          r.endpoint.description ? h('div', { class: 'muted' }, r.endpoint.description) : null,
        ],
      },
      { label: 'Status', cell: (r) => badge(r.endpoint.status) },
      { label: 'Health', cell: (r) => (r.health ? badge(r.health.state) : '—') },
      {
        label: 'Success 1 h',
        cell: (r) => rateMeter(r.health?.windows['1h'].success_rate, 'success rate over 1 hour'),
      },
      {
        label: 'Success 24 h',
        cell: (r) => rateMeter(r.health?.windows['24h'].success_rate, 'success rate over 24 hours'),
      },
      { label: 'p95 (24 h)', class: 'nowrap', cell: (r) => ms(r.health?.windows['24h'].latency_ms.p95) },
      {
        label: 'Types',
        cell: (r) => (r.endpoint.event_types?.length ? r.endpoint.event_types.join(', ') : 'all'),
      },
      { label: 'Last success', class: 'nowrap', cell: (r) => ago(r.endpoint.last_success_at) },
    ],
    rows,
    {
      caption: 'Endpoints',
      empty: emptyState(
        'No endpoints yet: add one with the form below (it is open), or from a terminal:',
        command('mailhook endpoints add https://example.com/hooks/email'),
      ),
    },
  );
  const form = endpointForm({
    submitLabel: 'Create endpoint',
    onSubmit: async (body) => {
      const created = await api('/endpoints', { method: 'POST', body });
      createdSecrets.set(created.id, created.secret);
      toast('Endpoint created', 'success');
      go(route(`endpoints/${encodeURIComponent(created.id)}`));
    },
  });
  add(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Endpoints')),
    h('div', { class: 'card' }, list.el),
    section(
      'Add an endpoint',
      h(
        'details',
        { open: query.get('add') === '1' || data.length === 0 },
        h('summary', null, 'New endpoint'),
        form,
      ),
    ),
  );
}
