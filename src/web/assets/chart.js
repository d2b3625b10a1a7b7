// A stacked bar chart in plain SVG (no library): one bar per time bucket, one colour per event type.
// Colours come from CSS classes, so they follow the light/dark theme. The same numbers are given as
// a table for screen readers.

import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs ?? {})) el.setAttribute(name, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/** CSS class of a type's colour: `email.delivered` → `t-delivered`; custom types share one. */
export function typeClass(type) {
  return type.startsWith('email.') ? `t-${type.slice(6)}` : 't-other';
}

function niceMax(value) {
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return value;
}

/**
 * buckets: [{ label, title, counts: { type: n } }]; types: the stacking order.
 * Returns a <figure> with the chart, a legend and a visually hidden data table.
 */
export function stackedBars({ buckets, types, caption }) {
  // About the drawn size at 1280 px wide, so text keeps its proportions (the SVG scales evenly).
  const width = 1000;
  const height = 240;
  const pad = { top: 12, right: 8, bottom: 26, left: 44 };
  const totals = buckets.map((b) => types.reduce((sum, t) => sum + (b.counts[t] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(buckets.length, 1);
  const barW = Math.max(2, slot * 0.72);
  const y = (v) => pad.top + plotH - (v / max) * plotH;

  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-label': `${caption}: ${totals.reduce((a, b) => a + b, 0)} events in ${buckets.length} intervals`,
  });
  for (const v of [0, max / 2, max]) {
    svg.append(
      s('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'gridline' }),
      s(
        'text',
        { x: pad.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' },
        String(Number.isInteger(v) ? v : v.toFixed(1)),
      ),
    );
  }
  const labelEvery = Math.ceil(buckets.length / 12);
  buckets.forEach((bucket, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    let base = 0;
    for (const type of types) {
      const n = bucket.counts[type] ?? 0;
      if (n === 0) continue;
      const rect = s('rect', {
        x,
        y: y(base + n),
        width: barW,
        height: Math.max(1, y(base) - y(base + n)),
        class: `bar ${typeClass(type)}`,
      });
      rect.append(s('title', null, document.createTextNode(`${bucket.title}: ${n} ${type}`)));
      svg.append(rect);
      base += n;
    }
    if (i % labelEvery === 0) {
      svg.append(
        s(
          'text',
          { x: x + barW / 2, y: height - 8, class: 'axis', 'text-anchor': 'middle' },
          document.createTextNode(bucket.label),
        ),
      );
    }
  });

  const used = types.filter((t) => buckets.some((b) => (b.counts[t] ?? 0) > 0));
  const legend = h(
    'ul',
    { class: 'legend', 'aria-hidden': 'true' },
    used.map((t) => h('li', null, h('span', { class: `swatch ${typeClass(t)}` }), t)),
  );
  const data = h(
    'table',
    { class: 'visually-hidden' },
    h('caption', null, caption),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col' }, 'Interval'),
        used.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      buckets.map((b) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, b.title),
          used.map((t) => h('td', null, String(b.counts[t] ?? 0))),
        ),
      ),
    ),
  );
  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    used.length ? legend : h('p', { class: 'hint' }, 'No events in this period.'),
    data,
  );
}

/** A <meter> for a rate in [0, 1] with its text; "no data" when null. */
export function rateMeter(rate, label) {
  if (rate === null || rate === undefined) return h('span', { class: 'muted' }, 'no data');
  return h(
    'span',
    { class: 'rate' },
    h('meter', { min: 0, max: 1, low: 0.5, high: 0.95, optimum: 1, value: rate, 'aria-label': label }),
    ` ${(rate * 100).toFixed(1)}%`,
  );
}
