// Small DOM helpers. Text always goes in as text nodes, never as HTML: event payloads come from the
// outside world and must never be able to inject markup.

let nextId = 0;

/** A fresh element id for label/control pairs. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * h('button', { class: 'primary', onclick: fn, 'aria-label': '…' }, 'text', child, [more]).
 * Props: `class`, `text`, `on<event>` listeners, boolean attributes (true/false), anything else as an
 * attribute; `value`/`checked`/`selected` are set as properties.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'value' || name === 'checked' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Appends children, skipping null/undefined/false (the DOM's own append would print "null"). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function link(href, text, props = {}) {
  return h('a', { href, ...props }, text);
}

/**
 * The short form of a long id: a prefixed id (`evt_01JD…`) keeps its prefix and last characters,
 * which are the ones that differ between ids made close together; any other long value (a provider's
 * message id) keeps its start and end.
 */
export function shortId(id) {
  const text = String(id);
  if (text.length <= 20) return text;
  const prefix = /^[a-z]+_/.exec(text)?.[0];
  return prefix ? `${prefix}…${text.slice(-8)}` : `${text.slice(0, 10)}…${text.slice(-8)}`;
}

/**
 * A long id shown short (whole with `full`): a link (plain text without `href`) and a copy button.
 * Hovering or focusing either shows the whole id in a tooltip; the button copies the whole id.
 */
export function idText(id, { href, label = 'id', full = false } = {}) {
  const text = String(id);
  const short = full ? text : shortId(text);
  const shown = href ? h('a', { href, class: 'mono' }, short) : h('span', { class: 'mono' }, short);
  const el = h(
    'span',
    { class: full ? 'id-ref full' : 'id-ref' },
    shown,
    copyButton(text, { label: `Copy ${label} ${text}` }),
  );
  if (short !== text) el.dataset.full = text;
  return el;
}

/** A link to a resource named by a long prefixed id, with the whole id on hover and a copy button. */
export function idLink(href, id) {
  return idText(id, { href });
}

/**
 * Text with a line-break opportunity after each of `chars` (`@` in an address, `/` in a URL), so a
 * long value can wrap at a sensible place instead of widening its column or breaking anywhere.
 */
export function breakable(text, chars) {
  const parts = [];
  let start = 0;
  for (let i = 0; i < text.length - 1; i++) {
    if (!chars.includes(text[i])) continue;
    parts.push(text.slice(start, i + 1), h('wbr'));
    start = i + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

/** `#/path` with a query string built from the non-empty values. */
export function route(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return `#/${path}${text ? `?${text}` : ''}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local date and time, to the second. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A <time> element showing the local time, with the ISO value for machines and a tooltip. */
export function time(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, fmtTime(iso)) : '—';
}

export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function pct(rate) {
  return rate === null || rate === undefined
    ? '—'
    : `${(rate * 100).toFixed(rate >= 0.9995 || rate === 0 ? 0 : 1)}%`;
}

export function ms(value) {
  return value === null || value === undefined ? '—' : `${Math.round(value)} ms`;
}

/** `<input type="datetime-local">` value (local time) ↔ ISO 8601. */
export function toLocalInput(date) {
  const d = new Date(date);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** A labelled form control: the label is tied to the control by id. */
export function field(label, control, hint) {
  const id = control.id || uid();
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
  );
}

export function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, text);
    }),
  );
}

/** A read-only JSON block that can be focused and scrolled with the keyboard. */
export function jsonBlock(value, label) {
  return h(
    'pre',
    { class: 'json', tabindex: 0, 'aria-label': label },
    value === undefined ? 'undefined' : JSON.stringify(value, null, 2),
  );
}

export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${String(kind).replace(/[^a-z0-9-]/gi, '-')}` }, text);
}

// Elements whose width some layout depends on (tables, charts): one observer for all of them.
const resizeWatchers = new WeakMap();
const dueFits = new Set();
let fitFrame = 0;

function scheduleFit(fn) {
  dueFits.add(fn);
  if (fitFrame) return;
  fitFrame = requestAnimationFrame(() => {
    fitFrame = 0;
    const run = [...dueFits];
    dueFits.clear();
    for (const f of run) f();
  });
}

const resizeObserver =
  typeof ResizeObserver === 'function'
    ? new ResizeObserver((entries) => {
        for (const entry of entries) {
          // A page left behind: stop watching, so its elements can be garbage collected.
          if (!entry.target.isConnected) {
            resizeObserver.unobserve(entry.target);
            resizeWatchers.delete(entry.target);
            continue;
          }
          const watcher = resizeWatchers.get(entry.target);
          const width = Math.round(entry.contentRect.width);
          if (!watcher || width === watcher.width) continue;
          watcher.width = width;
          scheduleFit(watcher.fn);
        }
      })
    : null;

/**
 * Calls `fn()` after `el` changes width, at most once per frame and outside the ResizeObserver
 * callback, so a fit that changes the layout cannot start a resize loop. Returns a function that
 * asks for the same call now (after rows were added, say).
 */
export function whenResized(el, fn) {
  resizeWatchers.set(el, { fn, width: -1 });
  resizeObserver?.observe(el);
  return () => scheduleFit(fn);
}

/**
 * A data table. columns: [{ label, cell: (row) => node|string, class? }]; a column without a label
 * holds actions. `empty` (text or nodes) says why nothing is listed and what fills the list.
 * Returns { el, table, tbody, addRows, setRows, makeRow, refit }: `el` wraps the table. A table whose columns cannot
 * fit side by side at its width (a phone, a narrow card) shows each row as a block of "label value"
 * lines instead, so nothing ever scrolls sideways.
 */
export function table(columns, rows, { caption, empty = 'Nothing here yet.' } = {}) {
  const tbody = h('tbody', { role: 'rowgroup' });
  const emptyRow = h(
    'tr',
    { class: 'empty', role: 'row' },
    h('td', { colspan: columns.length, role: 'cell' }, empty),
  );
  // Explicit roles: some browsers drop table semantics once the rows are laid out as blocks.
  const el = h(
    'table',
    { class: 'data', role: 'table' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h(
      'thead',
      { role: 'rowgroup' },
      h(
        'tr',
        { role: 'row' },
        columns.map((c) =>
          h(
            'th',
            { scope: 'col', class: c.class, role: 'columnheader' },
            c.label || h('span', { class: 'visually-hidden' }, 'Actions'),
          ),
        ),
      ),
    ),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap' }, el);
  const fit = () => {
    if (!wrap.isConnected || wrap.clientWidth === 0) return;
    // Side by side, cells break only between words: a layout fits when no word sticks out. First
    // roomy (event types on one line), then compact (long types wrap after a dot), else stacked.
    const fits = () => el.offsetWidth <= wrap.clientWidth + 1;
    el.classList.remove('stacked', 'compact');
    if (fits()) return;
    el.classList.add('compact');
    if (fits()) return;
    el.classList.add('stacked');
  };
  const refit = whenResized(wrap, fit);
  const makeRow = (row) =>
    h(
      'tr',
      { role: 'row' },
      columns.map((c) =>
        h('td', { class: c.class, role: 'cell', 'data-label': c.label || null }, c.cell(row)),
      ),
    );
  const addRows = (more, { prepend = false } = {}) => {
    emptyRow.remove();
    const nodes = more.map(makeRow);
    if (prepend) tbody.prepend(...nodes);
    else tbody.append(...nodes);
    if (tbody.children.length === 0) tbody.append(emptyRow);
    refit();
    return nodes;
  };
  const setRows = (replacement) => {
    tbody.replaceChildren();
    return addRows(replacement);
  };
  addRows(rows);
  return { el: wrap, table: el, tbody, addRows, setRows, makeRow, refit };
}

/** What an empty list shows: why it is empty, then the next step (a link, a form, a command). */
export function emptyState(text, ...next) {
  return h('div', { class: 'empty-state' }, h('p', null, text), ...next);
}

/** A shell command to run, with a button that copies it. */
export function command(text) {
  return h(
    'div',
    { class: 'command' },
    h('code', null, text),
    copyButton(text, { text: 'Copy', label: 'Copy command' }),
  );
}

/** A status message for screen readers and eyes; errors stay until dismissed. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h(
    'div',
    { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('span', null, message),
    h(
      'button',
      { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => item.remove() },
      '×',
    ),
  );
  box.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 4000);
  while (box.children.length > 4) box.firstElementChild.remove();
}

/** Runs an action from a button: disabled while it runs, errors shown; resolves to its result. */
export async function act(button, action, success) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    const result = await action();
    if (success) toast(typeof success === 'function' ? success(result) : success, 'success');
    return result;
  } catch (err) {
    toast(err.message ?? String(err), 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** An inline error in place of a section that could not load. */
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, `Could not load: ${err.message ?? String(err)}`);
}

/**
 * Puts text on the clipboard. The Clipboard API exists only in secure contexts; a dashboard served
 * over plain HTTP on a LAN falls back to copying a selected, off-screen textarea.
 */
export async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // refused (permissions, no focus): try the selection below
    }
  }
  const active = document.activeElement;
  const buffer = h('textarea', { class: 'clipboard-buffer', readonly: true, 'aria-hidden': 'true' });
  buffer.value = text;
  document.body.append(buffer);
  buffer.select();
  const copied = document.execCommand('copy');
  buffer.remove();
  if (active instanceof HTMLElement) active.focus({ preventScroll: true });
  if (!copied) throw new Error('copy refused');
}

const COPY_ICON =
  'M5 5V2.5A1.5 1.5 0 0 1 6.5 1h7A1.5 1.5 0 0 1 15 2.5v7a1.5 1.5 0 0 1-1.5 1.5H11M2.5 5h7A1.5 1.5 0 0 1 11 6.5v7A1.5 1.5 0 0 1 9.5 15h-7A1.5 1.5 0 0 1 1 13.5v-7A1.5 1.5 0 0 1 2.5 5Z';

const CHECK_ICON = 'M2.5 8.5 6 12l7.5-8';

function icon(path) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const shape = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  shape.setAttribute('d', path);
  svg.append(shape);
  return svg;
}

/**
 * A button that copies `value`. `text` is its visible label (an icon when absent); `label` is what
 * assistive technology announces. It says "Copied" for a moment, for eyes and for screen readers.
 */
export function copyButton(value, options = {}) {
  const { text, label = `Copy ${value}` } = typeof options === 'string' ? { text: options } : options;
  const button = h(
    'button',
    { type: 'button', class: text ? 'small copy' : 'icon-button copy', 'aria-label': label },
    text ?? icon(COPY_ICON),
  );
  let timer = 0;
  const face = (copied) =>
    button.replaceChildren(text ? (copied ? 'Copied' : text) : icon(copied ? CHECK_ICON : COPY_ICON));
  button.addEventListener('click', async () => {
    try {
      await writeClipboard(value);
      button.classList.add('copied');
      face(true);
      clearTimeout(timer);
      timer = setTimeout(() => {
        button.classList.remove('copied');
        face(false);
      }, 1500);
      toast('Copied', 'success');
    } catch {
      toast('The browser refused clipboard access; select the text instead', 'error');
    }
  });
  return button;
}

/*
 * One tooltip for every shortened id: shown while the pointer is over the id or its copy button, or
 * while either has keyboard focus; it stays while the pointer moves onto it (to select the text) and
 * Escape dismisses it. It is fixed to the viewport, so it never widens a table or the page.
 */
let tooltip = null;
let tooltipOwner = null;
let hideTimer = 0;

function tooltipElement() {
  if (!tooltip) {
    tooltip = h('div', { id: 'id-tooltip', class: 'tooltip mono', role: 'tooltip', hidden: true });
    tooltip.addEventListener('mouseenter', () => clearTimeout(hideTimer));
    tooltip.addEventListener('mouseleave', () => hideTooltip(120));
    document.body.append(tooltip);
  }
  return tooltip;
}

function showTooltip(owner) {
  clearTimeout(hideTimer);
  const tip = tooltipElement();
  if (tooltipOwner && tooltipOwner !== owner)
    tooltipOwner.firstElementChild?.removeAttribute('aria-describedby');
  tooltipOwner = owner;
  tip.textContent = owner.dataset.full;
  tip.hidden = false;
  owner.firstElementChild?.setAttribute('aria-describedby', tip.id);
  const box = owner.getBoundingClientRect();
  const width = tip.offsetWidth;
  const height = tip.offsetHeight;
  const left = Math.max(8, Math.min(box.left, window.innerWidth - width - 8));
  const below = box.bottom + 6;
  const top = below + height > window.innerHeight - 8 ? Math.max(8, box.top - height - 6) : below;
  tip.style.setProperty('--tip-left', `${Math.round(left)}px`);
  tip.style.setProperty('--tip-top', `${Math.round(top)}px`);
}

function hideTooltip(delay = 0) {
  clearTimeout(hideTimer);
  const hide = () => {
    if (!tooltip) return;
    tooltip.hidden = true;
    tooltipOwner?.firstElementChild?.removeAttribute('aria-describedby');
    tooltipOwner = null;
  };
  if (delay) hideTimer = setTimeout(hide, delay);
  else hide();
}

const ownerOf = (target) => (target instanceof Element ? target.closest('.id-ref[data-full]') : null);

document.addEventListener('mouseover', (e) => {
  const owner = ownerOf(e.target);
  if (owner) showTooltip(owner);
});
document.addEventListener('mouseout', (e) => {
  const owner = ownerOf(e.target);
  if (owner && ownerOf(e.relatedTarget) !== owner && e.relatedTarget !== tooltip) hideTooltip(120);
});
document.addEventListener('focusin', (e) => {
  const owner = ownerOf(e.target);
  if (owner) showTooltip(owner);
  else if (tooltipOwner) hideTooltip();
});
document.addEventListener('focusout', (e) => {
  if (ownerOf(e.target) && !ownerOf(e.relatedTarget)) hideTooltip();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && tooltip && !tooltip.hidden) hideTooltip();
});
window.addEventListener('hashchange', () => hideTooltip());

/** Reads a form's named controls into an object of trimmed strings (checkboxes → booleans). */
export function formValues(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name) continue;
    if (control.type === 'checkbox') {
      if (control.value && control.value !== 'on') {
        values[control.name] ??= [];
        if (control.checked) values[control.name].push(control.value);
      } else values[control.name] = control.checked;
    } else if (control.type !== 'submit' && control.type !== 'button')
      values[control.name] = control.value.trim();
  }
  return values;
}
