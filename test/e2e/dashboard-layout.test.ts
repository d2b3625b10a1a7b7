import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import {
  api,
  E2E_API_KEY,
  freePort,
  killAll,
  removeDir,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

/**
 * The dashboard's layout and usability in Debian's Chromium (playwright-core, no browser download)
 * against a real `mailhook serve`: nothing scrolls sideways at 1440 px or at 390 px, long ids show
 * whole on hover and copy from the keyboard, empty lists name their next step, hourly history is
 * charted, the attempt log pages, and events without email fields or with a pseudo-source render.
 */

const noBrowser = browserMissing();

/** Long values of the kind real providers send: they must wrap or shorten, never widen a table. */
const RECIPIENT = 'a.very.long.recipient.name.for.layout.checks@subdomain.example-mail-provider.com';
const MESSAGE_ID = '<CAH+w=7Kp9dQ4x1LongMessageIdentifier-0123456789abcdef0123456789@mail.gmail.com>';
const PAGED = 30;

interface Listed<T> {
  data: T[];
  next_cursor: string | null;
}
interface EventView {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

describe.skipIf(noBrowser)('dashboard layout', () => {
  let dataDir: string;
  let server: ServerProcess;
  let receiver: Receiver;
  let browser: Browser;
  const ids = {
    source: '',
    endpoint: '',
    dead: '',
    paged: '',
    empty: '',
    systemEvent: '',
    ownEvent: '',
    emailEvent: '',
  };

  async function post<T>(path: string, body: unknown): Promise<T> {
    const res = await api<T>(server.url, path, { method: 'POST', body });
    expect(res.status, `POST ${path}`).toBeLessThan(300);
    return res.body;
  }

  beforeAll(async () => {
    dataDir = tempDataDir();
    receiver = await startReceiver();
    server = await startServer({
      dataDir,
      env: { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_RETRY_SCHEDULE: '0s,200ms,200ms' },
    });
    browser = await launchBrowser();

    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const source = await post<{ id: string }>('/v1/sources', {
      name: 'Transactional mail from the production cluster',
      provider: 'standard',
      config: { secret },
    });
    ids.source = source.id;
    const endpoint = await post<{ id: string; secret: string }>('/v1/endpoints', {
      url: `${receiver.url}/hooks/email/with/a/rather/long/path/for/the/layout`,
      event_types: ['email.delivered', 'email.bounced', 'email.opened'],
    });
    ids.endpoint = endpoint.id;
    receiver.secrets.push(endpoint.secret);

    // Three signed requests through the real ingest path: the source's history and recent events.
    const signer = new StandardWebhook(secret);
    for (const [i, type] of ['email.delivered', 'email.bounced', 'email.opened'].entries()) {
      const body = JSON.stringify({
        type,
        timestamp: new Date().toISOString(),
        data: {
          recipient: RECIPIENT,
          message_id: MESSAGE_ID,
          ...(type === 'email.bounced' && {
            bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
          }),
        },
      });
      const webhookId = `msg_layout_${i}`;
      const now = new Date();
      const res = await fetch(`${server.url}/ingest/${ids.source}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signer.sign(webhookId, now, body),
        },
        body,
      });
      expect(res.status).toBe(200);
    }

    // An endpoint nobody listens on: its test send exhausts its retries and raises a system event.
    ids.dead = (
      await post<{ id: string }>('/v1/endpoints', {
        url: `http://127.0.0.1:${await freePort()}/dead`,
        event_types: ['never.sent'],
      })
    ).id;
    await post(`/v1/endpoints/${ids.dead}/test`, {});
    // Paused, so its deliveries stay in the attempt log as pending; enough for two pages of 25.
    ids.paged = (
      await post<{ id: string }>('/v1/endpoints', {
        url: 'http://127.0.0.1:9/paged',
        event_types: ['paging.test'],
        status: 'paused',
      })
    ).id;
    await post('/v1/events', {
      events: Array.from({ length: PAGED }, (_, n) => ({ type: 'paging.test', data: { n } })),
    });
    ids.empty = (
      await post<{ id: string }>('/v1/endpoints', {
        url: 'http://127.0.0.1:9/empty',
        event_types: ['never.sent'],
        status: 'paused',
      })
    ).id;
    // An own-type event: its data has no provider, recipient or source.
    ids.ownEvent = (
      await post<EventView>('/v1/events', { type: 'invoice.paid', data: { invoice_id: 'inv_9', amount: 42 } })
    ).id;

    ids.systemEvent = await waitFor('a system event', async () => {
      const { body } = await api<Listed<EventView>>(server.url, '/v1/events?source_id=src_system');
      return body.data[0]?.id;
    });
    ids.emailEvent = await waitFor('the ingested events', async () => {
      const { body } = await api<Listed<EventView>>(server.url, `/v1/events?source_id=${ids.source}`);
      return body.data.length === 3 ? body.data[0]?.id : undefined;
    });
    await waitFor('the deliveries to the receiver', async () =>
      receiver.requests.length >= 3 ? true : undefined,
    );
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await server?.stop();
    await killAll();
    if (dataDir) removeDir(dataDir);
  });

  interface Tab {
    page: Page;
    context: BrowserContext;
    errors: string[];
  }

  /** A signed-in tab at `width` × 900 that records script errors. */
  async function openTab(width: number, permissions: string[] = []): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    if (permissions.length) await context.grantPermissions(permissions, { origin: server.url });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) errors.push(message.text());
    });
    await page.goto(`${server.url}/`);
    await page.evaluate(`sessionStorage.setItem('mailhook.apiKey', ${JSON.stringify(E2E_API_KEY)})`);
    return { page, context, errors };
  }

  /** Opens a route and waits until every section has loaded and the tables have been fitted. */
  async function visit(page: Page, hash: string): Promise<void> {
    await page.goto(`${server.url}/#/${hash}`);
    await page.locator('main h1').first().waitFor();
    const loading = page.locator('main .loading');
    await waitFor('every section to load', async () => ((await loading.count()) === 0 ? true : undefined));
    // Tables are fitted in the animation frame after a resize: let two frames pass.
    await page.evaluate(
      'new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))',
    );
  }

  /**
   * Everything wider than the box that holds it: the page, a card, a table's wrapper, a chart, or a
   * table sticking out of its wrapper. Browser-side code as a string: the tests compile without DOM types.
   */
  const OVERFLOWS = `(() => {
    const found = [];
    const name = (el) =>
      el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + ' "' +
      (el.querySelector('h2, caption')?.textContent ?? '').slice(0, 40) + '"';
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) found.push('page ' + root.scrollWidth + ' > ' + root.clientWidth);
    for (const el of document.querySelectorAll('main, .card, .table-wrap, .chart-box')) {
      if (el.scrollWidth > el.clientWidth + 1) found.push(name(el) + ' ' + el.scrollWidth + ' > ' + el.clientWidth);
    }
    for (const table of document.querySelectorAll('table.data')) {
      const wrap = table.parentElement.getBoundingClientRect();
      const box = table.getBoundingClientRect();
      if (box.right > wrap.right + 1) found.push(name(table) + ' right ' + box.right + ' > ' + wrap.right);
    }
    return found;
  })()`;
  const overflows = (page: Page) => page.evaluate<string[]>(OVERFLOWS);

  const layoutOf = (page: Page, selector: string) =>
    page
      .locator(selector)
      .first()
      .evaluate((el) => (el.classList.contains('stacked') ? 'stacked' : 'side by side'));

  it('lets no page scroll sideways at 1440 px or 390 px, and keeps every table inside its card', async () => {
    const { body: deliveries } = await api<Listed<{ id: string }>>(
      server.url,
      `/v1/endpoints/${ids.endpoint}/deliveries?limit=1`,
    );
    const hashes = [
      `deliveries/${deliveries.data[0]?.id}`,
      'recipients',
      'overview',
      'overview?range=week',
      'events',
      'tail',
      'sources',
      `sources/${ids.source}`,
      'endpoints',
      `endpoints/${ids.endpoint}`,
      `endpoints/${ids.paged}`,
      `events/${ids.emailEvent}`,
      `events/${ids.systemEvent}`,
      `recipients/${RECIPIENT}`,
      'suppressions',
      'quarantine',
    ];
    for (const width of [1440, 390]) {
      const { page, context, errors } = await openTab(width);
      for (const hash of hashes) {
        await visit(page, hash);
        expect(await overflows(page), `${hash} at ${width} px`).toEqual([]);
      }
      // Wide: the long lists keep their columns; narrow: they become labelled blocks.
      await visit(page, 'events');
      expect(await layoutOf(page, 'main table.data')).toBe(width === 1440 ? 'side by side' : 'stacked');
      await visit(page, `sources/${ids.source}`);
      const recent = 'section[aria-labelledby="s-recent-events"] table.data';
      expect(await layoutOf(page, recent)).toBe(width === 1440 ? 'side by side' : 'stacked');
      // A stacked cell names its column.
      if (width === 390) {
        await expect(
          page
            .locator(`${recent} td[data-label="Recipient"]`)
            .first()
            .evaluate((td) => td.ownerDocument.defaultView?.getComputedStyle(td, '::before').content),
        ).resolves.toContain('Recipient');
      }
      expect(errors).toEqual([]);
      await context.close();
    }
  }, 120_000);

  it('folds the navigation behind a Menu button on a phone instead of wrapping it', async () => {
    const { page, context, errors } = await openTab(390);
    await visit(page, 'overview');
    const nav = page.getByRole('navigation', { name: 'Main' });
    const menu = page.getByRole('button', { name: 'Menu' });
    await expect(nav.isVisible()).resolves.toBe(false);
    await menu.click();
    await expect(menu.getAttribute('aria-expanded')).resolves.toBe('true');
    const lefts = await nav
      .getByRole('link')
      .evaluateAll((links) => links.map((a) => a.getBoundingClientRect().left));
    expect(lefts.length).toBe(8);
    expect(new Set(lefts).size).toBe(1); // one link per line, none wrapped beside another
    expect(await overflows(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await expect(menu.getAttribute('aria-expanded')).resolves.toBe('false');
    await menu.click();
    await nav.getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await expect(nav.isVisible()).resolves.toBe(false);
    // On a wide screen the button is gone and the navigation is always there.
    await page.setViewportSize({ width: 1440, height: 900 });
    await expect(menu.isVisible()).resolves.toBe(false);
    await expect(nav.isVisible()).resolves.toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('gives the Not found page, and a link to something that does not exist, their own title', async () => {
    const { page, context, errors } = await openTab(1440);
    await visit(page, 'events');
    expect(await page.title()).toBe('Events · mailhook');
    await page.goto(`${server.url}/#/no-such-page`);
    await page.getByRole('heading', { name: 'Not found', level: 1 }).waitFor();
    await expect(page.title()).resolves.toBe('Not found · mailhook');
    await visit(page, 'sources');
    await page.goto(`${server.url}/#/sources/src_01NOSUCHSOURCE0000000000000`);
    await page.getByRole('heading', { name: 'Not found', level: 1 }).waitFor();
    await expect(page.title()).resolves.toBe('Not found · mailhook');
    await page.getByRole('link', { name: 'Go to Sources.' }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows a long id whole on hover and on focus, and copies it with the keyboard', async () => {
    const { page, context, errors } = await openTab(1440, ['clipboard-read', 'clipboard-write']);
    await visit(page, 'events');
    const row = page.locator(`main tbody tr:has(a[href="#/events/${ids.emailEvent}"])`);
    const link = row.locator(`a[href="#/events/${ids.emailEvent}"]`);
    const shown = (await link.textContent()) ?? '';
    expect(shown.length).toBeLessThan(ids.emailEvent.length);
    expect(shown.endsWith(ids.emailEvent.slice(-8))).toBe(true);

    const tooltip = page.getByRole('tooltip');
    await link.hover();
    await tooltip.waitFor();
    await expect(tooltip.textContent()).resolves.toBe(ids.emailEvent);
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'hidden' });

    // Keyboard only: focus the id, Tab to its copy button, Enter.
    await link.focus();
    await tooltip.waitFor();
    await expect(link.getAttribute('aria-describedby')).resolves.toBe('id-tooltip');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate("document.activeElement?.getAttribute('aria-label')");
    expect(focused).toBe(`Copy event id ${ids.emailEvent}`);
    await page.keyboard.press('Enter');
    await page.getByText('Copied', { exact: true }).first().waitFor();
    await expect(page.evaluate('navigator.clipboard.readText()')).resolves.toBe(ids.emailEvent);
    await tooltip.waitFor();
    await page.keyboard.press('Escape');
    await tooltip.waitFor({ state: 'hidden' });

    // The message id (not a prefixed id) is shortened and copied whole too.
    await row.getByRole('button', { name: `Copy message id ${MESSAGE_ID}` }).click();
    await waitFor('the message id on the clipboard', async () =>
      (await page.evaluate('navigator.clipboard.readText()')) === MESSAGE_ID ? true : undefined,
    );
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('says what fills an empty list: the form or the command', async () => {
    const { page, context, errors } = await openTab(1440);
    await visit(page, `endpoints/${ids.empty}`);
    const log = page.locator('section[aria-labelledby="s-attempt-log"]');
    await log.getByText('No deliveries yet').waitFor();
    await expect(log.locator('.command code').textContent()).resolves.toBe(
      `mailhook endpoints test ${ids.empty}`,
    );
    await log.getByRole('button', { name: 'Copy command' }).waitFor();
    const chart = page.locator('section[aria-labelledby="s-attempts-per-hour"]');
    await chart.getByText('No attempts in the last 24 hours.').waitFor();
    await chart.getByText(/Send test event/).waitFor();

    await visit(page, `events?recipient=${encodeURIComponent('nobody@example.com')}`);
    await page.getByText('No events match these filters.').waitFor();
    await page.getByRole('link', { name: 'Show every event' }).waitFor();

    // A new installation: no source, event or suppression yet (the API's answers replaced in the browser).
    await page.route(/\/v1\/(sources|events|suppressions)(\?.*)?$/, (route) =>
      route.fulfill({ json: { data: [], next_cursor: null } }),
    );
    await visit(page, 'suppressions');
    await page.getByText(/No suppressions yet/).waitFor();
    await expect(page.locator('main .command code').textContent()).resolves.toContain(
      'mailhook suppressions add',
    );

    await visit(page, 'events');
    await page.getByText('No events yet.').waitFor();
    await expect(page.getByRole('link', { name: 'Add a source' }).getAttribute('href')).resolves.toBe(
      '#/sources?add=1',
    );
    await expect(page.locator('main .command code').textContent()).resolves.toContain(
      `${server.url}/v1/events`,
    );
    expect(await overflows(page)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('charts the hourly history of an endpoint and of a source, with the numbers in a hidden table', async () => {
    const { page, context, errors } = await openTab(1440);
    const history = await api<Listed<{ attempts: number; succeeded: number }>>(
      server.url,
      `/v1/endpoints/${ids.endpoint}/history?hours=24`,
    );
    const attempts = history.body.data.reduce((n, b) => n + b.attempts, 0);
    expect(attempts).toBeGreaterThanOrEqual(3);

    await visit(page, `endpoints/${ids.endpoint}`);
    const chart = page.locator('section[aria-labelledby="s-attempts-per-hour"]');
    await chart.locator('svg.chart rect.bar').first().waitFor();
    await chart.getByText(`${attempts} attempts in the last 24 hours`, { exact: false }).waitFor();
    const rows = chart.locator('.visually-hidden table tbody tr');
    await expect(rows.count()).resolves.toBe(24);
    const counted = await rows.evaluateAll((trs) =>
      trs.reduce(
        (n, tr) =>
          n + [...tr.querySelectorAll('td')].slice(0, -1).reduce((m, td) => m + Number(td.textContent), 0),
        0,
      ),
    );
    expect(counted).toBe(attempts);
    const week = chart.getByRole('button', { name: 'Last 7 days' });
    await week.click();
    await expect(week.getAttribute('aria-pressed')).resolves.toBe('true');
    await waitFor('168 hourly rows', async () => ((await rows.count()) === 168 ? true : undefined));
    await chart.locator('svg.chart rect.bar').first().waitFor();

    await visit(page, `sources/${ids.source}`);
    const requests = page.locator('section[aria-labelledby="s-requests-per-hour"]');
    await requests.locator('svg.chart rect.bar').first().waitFor();
    await requests.getByText('3 requests in the last 24 hours, every one parsed.').waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('pages through the attempt log, with a time on every delivery', async () => {
    const { body: all } = await api<Listed<{ id: string }>>(
      server.url,
      `/v1/endpoints/${ids.paged}/deliveries?limit=100`,
    );
    expect(all.data.length).toBe(PAGED);
    const { page, context, errors } = await openTab(1440);
    await visit(page, `endpoints/${ids.paged}`);
    const log = page.locator('section[aria-labelledby="s-attempt-log"]');
    await log.getByLabel('Per page').selectOption('25');
    await log.getByText('Deliveries 1–25').waitFor();
    const rows = log.locator('table.data > tbody > tr:not(.detail)');
    const pageIds = () =>
      rows.evaluateAll((trs) =>
        trs.map((tr) => tr.querySelector('[data-delivery]')?.getAttribute('data-delivery')),
      );
    const first = await pageIds();
    expect(first.length).toBe(25);
    // Every delivery shows when it was created, as a machine-readable time.
    const created = await rows.evaluateAll((trs) =>
      trs.map((tr) => tr.querySelector('td[data-label="Created"] time')?.getAttribute('datetime')),
    );
    expect(created.every((t) => t && !Number.isNaN(Date.parse(t)))).toBe(true);
    await expect(log.getByRole('button', { name: 'Newest' }).isDisabled()).resolves.toBe(true);

    await log.getByRole('button', { name: 'Older ›' }).click();
    await log.getByText('Deliveries 26–30 (the oldest)').waitFor();
    const second = await pageIds();
    expect(second.length).toBe(PAGED - 25);
    await expect(log.getByRole('button', { name: 'Older ›' }).isDisabled()).resolves.toBe(true);
    expect(new Set([...first, ...second])).toEqual(new Set(all.data.map((d) => d.id)));

    await log.getByRole('button', { name: '‹ Newer' }).click();
    await log.getByText('Deliveries 1–25').waitFor();
    expect(await pageIds()).toEqual(first);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('links system events to what they are about, and shows "—" for events without email fields', async () => {
    const { page, context, errors } = await openTab(1440);
    await visit(page, 'events');
    const systemRow = page.locator(`main tbody tr:has(a[href="#/events/${ids.systemEvent}"])`);
    const sourceLink = systemRow.locator('td[data-label="Source"] a');
    await expect(sourceLink.textContent()).resolves.toBe('mailhook (system)');
    await expect(sourceLink.getAttribute('href')).resolves.toBe('#/events?source_id=src_system');

    const ownRow = page.locator(`main tbody tr:has(a[href="#/events/${ids.ownEvent}"])`);
    for (const column of ['Recipient', 'Message']) {
      await expect(ownRow.locator(`td[data-label="${column}"]`).textContent()).resolves.toBe('—');
    }

    await sourceLink.click();
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
    await page.locator(`main tbody a[href="#/events/${ids.systemEvent}"]`).waitFor();
    expect(page.url()).toContain('source_id=src_system');

    await visit(page, `events/${ids.systemEvent}`);
    await expect(page.getByRole('link', { name: ids.dead }).getAttribute('href')).resolves.toBe(
      `#/endpoints/${ids.dead}`,
    );
    await visit(page, `events/${ids.ownEvent}`);
    await page.getByText('"invoice_id": "inv_9"', { exact: false }).waitFor();

    // The live tail shows such an event as it arrives from the stream.
    await visit(page, 'tail');
    await page.locator('#tail-state', { hasText: 'Live' }).waitFor();
    const live = await post<EventView>('/v1/events', { type: 'order.shipped', data: { order: 'ord_1' } });
    const liveRow = page.locator(`#tail-table tbody tr:has(a[href="#/events/${live.id}"])`);
    await liveRow.waitFor();
    await expect(liveRow.locator('td[data-label="Recipient"]').textContent()).resolves.toBe('—');
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
