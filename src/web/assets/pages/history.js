// Hourly history as a chart: an endpoint's attempts (GET /v1/endpoints/:id/history) and a source's
// requests (GET /v1/sources/:id/history), over the last day or week.

import { api } from '../api.js';
import { stackedBars } from '../chart.js';
import { h } from '../dom.js';
import { section, slot } from './shared.js';

const HOUR = 3_600_000;
const RANGES = [
  [24, 'Last 24 hours'],
  [168, 'Last 7 days'],
];
const pad = (n) => String(n).padStart(2, '0');

/**
 * `hours` hourly buckets ending with the current hour. The API lists only hours that had something,
 * so the others are filled with zero rows (`row` null).
 */
export function hourBuckets(rows, hours, now = Date.now()) {
  const end = Math.floor(now / HOUR) * HOUR;
  const byHour = new Map(rows.map((r) => [new Date(r.hour).getTime(), r]));
  return Array.from({ length: hours }, (_, i) => {
    const start = end - (hours - 1 - i) * HOUR;
    const d = new Date(start);
    const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return {
      start,
      row: byHour.get(start) ?? null,
      // Midnight shows the date, so a week reads as days.
      label: d.getHours() === 0 ? `${d.getMonth() + 1}/${d.getDate()}` : clock,
      title: `${d.toLocaleDateString()} ${clock}–${pad(new Date(start + HOUR).getHours())}:${pad(d.getMinutes())}`,
      // Local hours since the epoch: axis labels land on round local hours (every 6 h, at midnight…).
      step: Math.round((start - d.getTimezoneOffset() * 60_000) / HOUR),
    };
  });
}

/**
 * A card with the hourly chart and a range switch. `series`: [{ key, label, class }]; `counts(row)`
 * maps an API row to { key: n }; `summary(buckets)` is the sentence above the chart; `empty(range)`
 * what to show when the range had nothing; `columns` extra data-table columns.
 */
export function historySection({ title, path, signal, series, counts, summary, empty, columns, caption }) {
  let hours = RANGES[0][0];
  const body = h('div');
  const buttons = RANGES.map(([n, label]) => {
    const button = h('button', { type: 'button', 'aria-pressed': String(n === hours) }, label);
    button.addEventListener('click', () => {
      if (n === hours) return;
      hours = n;
      for (const b of buttons) b.setAttribute('aria-pressed', String(b === button));
      load();
    });
    return button;
  });
  const load = () => {
    const label = RANGES.find(([n]) => n === hours)[1].toLowerCase();
    body.replaceChildren(
      slot(
        api(path, { query: { hours }, signal }).then(({ data }) => {
          const buckets = hourBuckets(data, hours).map((b) => ({
            ...b,
            counts: b.row ? counts(b.row) : {},
          }));
          return [
            h('p', { class: 'chart-summary' }, summary(buckets, label)),
            stackedBars({
              buckets,
              series,
              columns,
              caption: `${caption}, ${label}`,
              empty: empty(label),
            }),
          ];
        }),
      ),
    );
  };
  load();
  const card = section(title, body);
  const heading = card.querySelector('h2');
  const head = h('div', { class: 'card-head' });
  heading.before(head);
  head.append(
    heading,
    h('div', { class: 'segmented', role: 'group', 'aria-label': `${title}: period` }, buttons),
  );
  return card;
}
