// The dashboard shell: sign-in, navigation and a hash router. Each page is a module under pages/
// exporting `render(main, ctx)`; ctx.signal aborts when the user leaves the page, so pages stop their
// timers and streams. Routes live in the hash (#/events?type=…); the API key never does.

import { api, session } from './api.js';
import { clear, errorBox, h, toast } from './dom.js';

const ROUTES = [
  { path: 'overview', nav: 'overview', load: () => import('./pages/overview.js') },
  { path: 'tail', nav: 'tail', load: () => import('./pages/tail.js') },
  { path: 'events', nav: 'events', load: () => import('./pages/events.js') },
  { path: 'events/:id', nav: 'events', load: () => import('./pages/event.js') },
  { path: 'sources', nav: 'sources', load: () => import('./pages/sources.js') },
  { path: 'sources/:id', nav: 'sources', load: () => import('./pages/source.js') },
  { path: 'endpoints', nav: 'endpoints', load: () => import('./pages/endpoints.js') },
  { path: 'endpoints/:id', nav: 'endpoints', load: () => import('./pages/endpoint.js') },
  { path: 'deliveries/:id', nav: 'endpoints', load: () => import('./pages/delivery.js') },
  { path: 'suppressions', nav: 'suppressions', load: () => import('./pages/suppressions.js') },
  { path: 'recipients', nav: 'recipients', load: () => import('./pages/recipients.js') },
  { path: 'recipients/:id', nav: 'recipients', load: () => import('./pages/recipients.js') },
  { path: 'quarantine', nav: 'quarantine', load: () => import('./pages/quarantine.js') },
  { path: 'inbox/:id', nav: 'quarantine', load: () => import('./pages/inbox-row.js') },
];

const NAV = [
  ['overview', 'Overview'],
  ['tail', 'Live tail'],
  ['events', 'Events'],
  ['sources', 'Sources'],
  ['endpoints', 'Endpoints'],
  ['suppressions', 'Suppressions'],
  ['recipients', 'Recipients'],
  ['quarantine', 'Quarantine'],
];

const THEMES = ['auto', 'light', 'dark'];
const root = document.getElementById('app');
let current = null; // { controller } of the page on screen
let afterSignIn = null;
let closeMenu = () => {};

function parseHash() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, queryText = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const r of ROUTES) {
    const pattern = r.path.split('/');
    if (pattern.length !== parts.length) continue;
    if (!pattern.every((seg, i) => seg.startsWith(':') || seg === parts[i])) continue;
    const params = {};
    pattern.forEach((seg, i) => {
      if (seg.startsWith(':')) params[seg.slice(1)] = parts[i];
    });
    return { route: r, params, query: new URLSearchParams(queryText) };
  }
  return { route: parts.length === 0 ? ROUTES[0] : null, params: {}, query: new URLSearchParams(queryText) };
}

function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

function themeButton() {
  const stored = localStorage.getItem('mailhook.theme');
  let theme = THEMES.includes(stored) ? stored : 'auto';
  applyTheme(theme);
  const button = h('button', {
    type: 'button',
    class: 'ghost',
    title: 'Colour theme: auto follows the system',
  });
  const label = () => {
    // A phone shows only the value; the name keeps the whole sentence.
    button.replaceChildren(h('span', { class: 'wide-only' }, 'Theme: '), theme);
    button.setAttribute('aria-label', `Theme: ${theme}`);
  };
  label();
  button.addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem('mailhook.theme', theme);
    applyTheme(theme);
    label();
  });
  return button;
}

function signOut(message) {
  session.signOut();
  current?.controller.abort();
  current = null;
  if (message) toast(message, 'error');
  renderSignIn();
}

function renderSignIn() {
  if (location.hash.startsWith('#/')) afterSignIn = location.hash;
  const input = h('input', {
    id: 'api-key',
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'api-key-hint',
  });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to mailhook'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h(
      'p',
      { class: 'hint', id: 'api-key-hint' },
      'The admin key printed on first start, or MAILHOOK_API_KEY. It stays in this tab only (sessionStorage) and is sent in the Authorization header, never in a URL.',
    ),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    submit.disabled = true;
    error.hidden = true;
    try {
      await api('/event-types', { key });
      session.signIn(key);
      const target = afterSignIn ?? '#/overview';
      afterSignIn = null;
      if (location.hash === target) renderShell();
      else location.hash = target;
    } catch (err) {
      error.textContent = err.status === 401 ? 'That key was refused.' : `Could not sign in: ${err.message}`;
      error.hidden = false;
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  clear(root, h('main', { id: 'main', class: 'signin-page', tabindex: -1 }, form));
  document.title = 'Sign in · mailhook';
  input.focus();
}

/** Narrow screens fold the navigation behind a Menu button instead of wrapping it over several lines. */
function menuButton(nav) {
  const button = h(
    'button',
    { type: 'button', class: 'ghost menu-toggle', 'aria-expanded': 'false', 'aria-controls': nav.id },
    'Menu',
  );
  const setOpen = (open) => {
    button.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
  };
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-expanded') !== 'true';
    setOpen(open);
    if (open) nav.querySelector('a[aria-current="page"], a')?.focus();
  });
  nav.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && nav.classList.contains('open')) {
      setOpen(false);
      button.focus();
    }
  });
  closeMenu = () => setOpen(false);
  return button;
}

function renderShell() {
  const main = h('main', { id: 'main', tabindex: -1 });
  const nav = h(
    'nav',
    { 'aria-label': 'Main', id: 'main-nav' },
    h(
      'ul',
      null,
      NAV.map(([key, text]) => h('li', null, h('a', { href: `#/${key}`, 'data-nav': key }, text))),
    ),
  );
  const header = h(
    'header',
    { class: 'topbar' },
    menuButton(nav),
    h(
      'a',
      { class: 'brand', href: '#/overview' },
      h('img', { src: '/assets/favicon.svg', alt: '' }),
      'mailhook',
    ),
    h('span', { class: 'spacer' }),
    themeButton(),
    h('button', { type: 'button', class: 'ghost', onclick: () => signOut() }, 'Sign out'),
  );
  clear(root, header, h('div', { class: 'layout' }, nav, main));
  return navigate(false);
}

async function navigate(focus = true) {
  if (!session.key()) return renderSignIn();
  const main = document.getElementById('main');
  if (!main || !root.querySelector('nav')) return renderShell();
  const { route, params, query } = parseHash();
  closeMenu();
  current?.controller.abort();
  const controller = new AbortController();
  current = { controller };
  for (const a of root.querySelectorAll('nav a')) {
    if (a.dataset.nav === route?.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!route) {
    clear(
      main,
      h('h1', null, 'Not found'),
      h('p', null, 'No such page. ', h('a', { href: '#/overview' }, 'Go to the overview.')),
    );
  } else await renderPage(main, route, params, query, controller);
  if (controller.signal.aborted) return;
  const title = main.querySelector('h1');
  document.title = `${title?.textContent ?? 'Dashboard'} · mailhook`;
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  if (focus && title) {
    title.setAttribute('tabindex', '-1');
    title.focus({ preventScroll: true });
  }
}

/** The page of a route; a thing that does not exist (404 from the API) is a Not found page too. */
async function renderPage(main, route, params, query, controller) {
  clear(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    const page = await route.load();
    if (controller.signal.aborted) return;
    clear(main);
    await page.render(main, {
      params,
      query,
      signal: controller.signal,
      go: (hash) => {
        location.hash = hash;
      },
    });
  } catch (err) {
    if (controller.signal.aborted || err.name === 'AbortError') return;
    if (err.status === 404) {
      const list = NAV.find(([key]) => key === route.nav);
      clear(
        main,
        h('h1', null, 'Not found'),
        h(
          'p',
          null,
          `${err.message}: it was deleted, pruned after its retention period, or the link is wrong. `,
          list ? h('a', { href: `#/${list[0]}` }, `Go to ${list[1]}.`) : null,
        ),
      );
      return;
    }
    clear(main, h('h1', null, 'Something went wrong'), errorBox(err));
  }
}

window.addEventListener('hashchange', () => {
  if (location.hash === '#main') return;
  navigate();
});
window.addEventListener('mailhook:unauthorized', () => {
  if (session.key()) signOut('The API key was refused; sign in again.');
});
document.getElementById('skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main')?.focus();
});

applyTheme(localStorage.getItem('mailhook.theme') ?? 'auto');
if (session.key()) renderShell();
else renderSignIn();
