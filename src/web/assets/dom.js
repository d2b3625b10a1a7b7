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
 * A link to a resource named by a long prefixed id (`evt_01JD…`): shows the prefix and the last
 * characters, which are the ones that differ between ids made close together; the title has it all.
 */
export function idLink(href, id) {
  const short =
    id.length > 16 && /^[a-z]+_/.test(id) ? `${id.slice(0, id.indexOf('_') + 1)}…${id.slice(-8)}` : id;
  return h('a', { href, class: 'mono', title: id }, short);
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

/**
 * A data table. columns: [{ label, cell: (row) => node|string, class? }]. Rows are appended later
 * with `addRows` (for "load more" pages).
 */
export function table(columns, rows, { caption, empty = 'Nothing here yet.' } = {}) {
  const tbody = h('tbody');
  const emptyRow = h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty));
  const el = h(
    'table',
    { class: 'data' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)),
      ),
    ),
    tbody,
  );
  const addRows = (more, { prepend = false } = {}) => {
    emptyRow.remove();
    const nodes = more.map((row) =>
      h(
        'tr',
        null,
        columns.map((c) => h('td', { class: c.class }, c.cell(row))),
      ),
    );
    if (prepend) tbody.prepend(...nodes);
    else tbody.append(...nodes);
    if (tbody.children.length === 0) tbody.append(emptyRow);
    return nodes;
  };
  addRows(rows);
  return { el, tbody, addRows };
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

export function copyButton(text, label = 'Copy') {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          toast('Copied', 'success');
        } catch {
          toast('The browser refused clipboard access; select the text instead', 'error');
        }
      },
    },
    label,
  );
}

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
