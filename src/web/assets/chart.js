// A stacked bar chart in plain SVG (no library): one bar per time bucket, one colour per series (an
// event type, or succeeded/failed). Colours come from CSS classes, so they follow the light/dark
// theme. It is drawn at the pixel width of its box (redrawn when that changes), so text stays
// readable on a phone. The same numbers are given as a table for screen readers.

import { h, whenResized } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 26, left: 44 };
/** Label spacings (in buckets) that land on round values: every hour, 2 h, 3 h, 6 h, 12 h, a day… */
const TICK_STEPS = [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168];

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

function drawBars(width, { buckets, series, totals, label }) {
  const max = niceMax(Math.max(0, ...totals));
  const plotW = Math.max(width - PAD.left - PAD.right, 10);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(buckets.length, 1);
  const barW = Math.max(1, slot * 0.72);
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width,
    height: HEIGHT,
    class: 'chart',
    role: 'img',
    'aria-label': label,
  });
  for (const v of [0, max / 2, max]) {
    svg.append(
      s('line', { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v), class: 'gridline' }),
      s(
        'text',
        { x: PAD.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' },
        document.createTextNode(Number.isInteger(v) ? String(v) : v.toFixed(1)),
      ),
    );
  }
  // As many labels as fit (about 64 px each), on buckets whose step is a multiple of a round spacing.
  const room = Math.max(1, Math.floor(plotW / 64));
  const every = TICK_STEPS.find((n) => buckets.length / n <= room) ?? Math.ceil(buckets.length / room);
  buckets.forEach((bucket, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let base = 0;
    for (const one of series) {
      const n = bucket.counts[one.key] ?? 0;
      if (n === 0) continue;
      const rect = s('rect', {
        x,
        y: y(base + n),
        width: barW,
        height: Math.max(1, y(base) - y(base + n)),
        class: `bar ${one.class}`,
      });
      rect.append(s('title', null, document.createTextNode(`${bucket.title}: ${n} ${one.label}`)));
      svg.append(rect);
      base += n;
    }
    if ((bucket.step ?? i) % every === 0) {
      const cx = Math.min(Math.max(x + barW / 2, PAD.left + 16), width - PAD.right - 16);
      svg.append(
        s(
          'text',
          { x: cx, y: HEIGHT - 8, class: 'axis', 'text-anchor': 'middle' },
          document.createTextNode(bucket.label),
        ),
      );
    }
  });
  return svg;
}

/**
 * buckets: [{ label, title, counts: { key: n }, step? }] (`step` aligns axis labels, e.g. the local
 * hour); series: [{ key, label, class }] in stacking order, or `types` (event types) instead;
 * `columns`: more columns for the data table, [{ label, value: (bucket) => text }]; `empty`: text or
 * nodes shown when every bucket is zero. Returns a <figure> with the chart, a legend and a visually
 * hidden data table.
 */
export function stackedBars({ buckets, types, series, caption, columns = [], empty }) {
  const all = series ?? types.map((t) => ({ key: t, label: t, class: typeClass(t) }));
  const totals = buckets.map((b) => all.reduce((sum, one) => sum + (b.counts[one.key] ?? 0), 0));
  const total = totals.reduce((a, b) => a + b, 0);
  const used = all.filter((one) => buckets.some((b) => (b.counts[one.key] ?? 0) > 0));
  const unit = series ? '' : ' events';
  const label = `${caption}: ${total}${unit} in ${buckets.length} intervals`;
  const box = h('div', { class: 'chart-box' });
  whenResized(box, () => {
    const width = Math.floor(box.clientWidth);
    if (width > 0) box.replaceChildren(drawBars(width, { buckets, series: all, totals, label }));
  });

  const legend = h(
    'ul',
    { class: 'legend', 'aria-hidden': 'true' },
    used.map((one) => h('li', null, h('span', { class: `swatch ${one.class}` }), one.label)),
  );
  // The table sits in a clipped block: a table ignores its own width and overflow, so hidden alone
  // it would still widen the page.
  const data = h(
    'div',
    { class: 'visually-hidden' },
    h(
      'table',
      null,
      h('caption', null, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Interval'),
          used.map((one) => h('th', { scope: 'col' }, one.label)),
          columns.map((c) => h('th', { scope: 'col' }, c.label)),
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
            used.map((one) => h('td', null, String(b.counts[one.key] ?? 0))),
            columns.map((c) => h('td', null, c.value(b))),
          ),
        ),
      ),
    ),
  );
  return h(
    'figure',
    { class: 'chart-figure' },
    box,
    used.length ? legend : h('div', { class: 'hint chart-empty' }, empty ?? 'No events in this period.'),
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
