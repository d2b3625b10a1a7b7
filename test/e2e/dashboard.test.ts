import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, testApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import {
  api,
  E2E_API_KEY,
  killAll,
  REPO_ROOT,
  removeDir,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser download)
 * against a real `mailhook serve`, with a real receiver verifying the deliveries.
 */

/**
 * Screenshots go to the system temp dir (not the repository, nor the run's temp dir, which is removed
 * at the end); the path is printed for a human to look.
 */
const SHOTS = join(process.env.MAILHOOK_TEST_OUTER_TMPDIR ?? tmpdir(), 'mailhook-dashboard-screenshots');

const noBrowser = browserMissing();

interface EventView {
  id: string;
  type: string;
  data: { recipient: string; tags: string[] };
}

describe.skipIf(noBrowser)('dashboard', () => {
  let dataDir: string;
  let server: ServerProcess;
  let receiver: Receiver;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dataDir = tempDataDir();
    receiver = await startReceiver();
    server = await startServer({
      dataDir,
      env: { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_RETRY_SCHEDULE: '0s,200ms,200ms' },
    });
    browser = await launchBrowser();
    console.log(`dashboard screenshots: ${SHOTS}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await server?.stop();
    await killAll();
    if (dataDir) removeDir(dataDir);
  });

  /** A fresh tab at 1280×800 that records script errors and every URL it requests. */
  async function openPage(): Promise<{ page: Page; errors: string[]; urls: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    const urls: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) errors.push(message.text());
    });
    page.on('request', (request) => urls.push(request.url()));
    return { page, errors, urls };
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${server.url}/`);
    await page.getByLabel('API key').fill(E2E_API_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

  it('refuses a wrong key and keeps every page behind sign-in', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/#/endpoints`);
    await page.getByRole('heading', { name: 'Sign in to mailhook' }).waitFor();
    await page.getByLabel('API key').fill('not-the-key-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That key was refused.').waitFor();
    await shot(page, '0-sign-in');
    // The right key then lands on the page that was asked for.
    await page.getByLabel('API key').fill(E2E_API_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('adds a source and an endpoint, shows an ingested event live, and pauses, resumes and retries the endpoint', async () => {
    const { page, errors, urls } = await openPage();
    await signIn(page);
    await shot(page, '1-overview-empty');

    // A Standard Webhooks source through the form, with a secret generated in the browser.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click();
    await page.getByLabel('Name').fill('Product signups');
    await page.getByLabel('Provider').selectOption('standard');
    await page.getByRole('button', { name: 'Generate' }).click();
    const sourceSecret = await page.getByLabel(/Signing secret/).inputValue();
    expect(sourceSecret).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Create source' }).click();
    await page.getByRole('heading', { name: 'Product signups', level: 1 }).waitFor();
    const sourceId = decodeURIComponent(page.url().split('#/sources/')[1]?.split('?')[0] ?? '');
    expect(sourceId).toMatch(/^src_/);
    await expect(page.getByLabel('Setup instructions').textContent()).resolves.toContain(
      `/ingest/${sourceId}`,
    );
    await shot(page, '2-source');

    // An endpoint pointing at the receiver; its secret is shown once on its page.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Endpoints' }).click();
    await page.getByLabel('URL', { exact: true }).fill(`${receiver.url}/hooks`);
    await page.getByLabel('Description').fill('CRM sync');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: `${receiver.url}/hooks`, level: 1 }).waitFor();
    const endpointSecret = (await page.locator('#endpoint-secret').textContent()) ?? '';
    expect(endpointSecret).toMatch(/^whsec_/);
    receiver.secrets.push(endpointSecret);
    const endpointUrl = page.url();

    // The live tail shows an event posted to the ingest URL by a sender signing with the secret.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Live tail' }).click();
    await page.locator('#tail-state', { hasText: 'Live' }).waitFor();
    const body = JSON.stringify({
      type: 'email.bounced',
      timestamp: new Date().toISOString(),
      data: {
        recipient: 'bounced.user@example.com',
        message_id: 'msg-dashboard-1',
        bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
      },
    });
    const webhookId = 'msg_dashboard_e2e_1';
    const now = new Date();
    const ingest = await fetch(`${server.url}/ingest/${sourceId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new StandardWebhook(sourceSecret).sign(webhookId, now, body),
      },
      body,
    });
    expect(ingest.status).toBe(200);
    const row = page.locator('#tail-table tbody tr', { hasText: 'bounced.user@example.com' });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('email.bounced');
    await shot(page, '3-live-tail');

    // Its page: canonical event, raw payload, message timeline, and the delivery to the endpoint.
    await row.getByRole('link', { name: /^evt_/ }).click();
    await page.getByRole('heading', { name: /email\.bounced/, level: 1 }).waitFor();
    await expect(page.getByLabel('Raw provider payload JSON').textContent()).resolves.toContain(
      'no such user',
    );
    await page.getByRole('heading', { name: 'Message timeline' }).waitFor();
    const deliveryRow = page.locator('section[aria-labelledby="s-deliveries"] tbody tr', {
      hasText: 'CRM sync',
    });
    await deliveryRow.first().waitFor();
    await waitFor('the delivery to reach the receiver', async () =>
      receiver.requests.length > 0 ? true : undefined,
    );
    expect(receiver.requests[0]?.checks[0]?.standardwebhooks).toBe(true);
    await shot(page, '4-event');

    // The endpoint: pause and resume through the buttons, the API agrees each time.
    await page.goto(endpointUrl);
    const endpointId = decodeURIComponent(endpointUrl.split('#/endpoints/')[1] ?? '');
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('#endpoint-status', { hasText: 'paused' }).waitFor();
    expect((await api<{ status: string }>(server.url, `/v1/endpoints/${endpointId}`)).body.status).toBe(
      'paused',
    );
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#endpoint-status', { hasText: 'active' }).waitFor();
    expect((await api<{ status: string }>(server.url, `/v1/endpoints/${endpointId}`)).body.status).toBe(
      'active',
    );

    // Retry the delivery from the attempt log and see the second attempt appear under its row.
    const log = page.locator('section[aria-labelledby="s-attempt-log"]');
    const logRow = log.locator('tbody tr').first();
    await logRow.getByText('1 attempt').waitFor();
    await logRow.getByRole('button', { name: /^Retry delivery/ }).click();
    await logRow.getByText('2 attempts').waitFor();
    await log.locator('tr.detail table tbody tr').nth(1).waitFor();
    expect(receiver.byId(receiver.requests[0]?.webhookId ?? '').length).toBe(2);
    await shot(page, '5-endpoint');

    // A sample event signed by the browser (WebCrypto) goes through the real ingest path too.
    await page.goto(`${server.url}/#/sources/${sourceId}`);
    await page.getByLabel('Signing secret', { exact: true }).fill(sourceSecret);
    await page.getByLabel('Type').selectOption('email.delivered');
    await page.getByRole('button', { name: 'Send sample event' }).click();
    await page.getByText('Ingest answered 200').waitFor();
    const sample = await waitFor('the sample event to be stored', async () => {
      const { body: page } = await api<{ data: EventView[] }>(
        server.url,
        `/v1/events?source_id=${sourceId}&type=email.delivered`,
      );
      return page.data.find((e) => e.data.tags.includes('mailhook-sample'));
    });
    expect(sample.data.recipient).toBe('sample.recipient@example.com');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Events by type' }).waitFor();
    await page.locator('svg.chart rect.bar').first().waitFor();
    await shot(page, '6-overview');

    // Signing out forgets the key; the key never appeared in any URL the page requested.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to mailhook' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(urls.filter((url) => url.includes(E2E_API_KEY))).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('shows custom header names only, reveals the values on request and saves an edited one', async () => {
    const url = 'http://127.0.0.1:9/headers';
    const created = await api<{ id: string }>(server.url, '/v1/endpoints', {
      method: 'POST',
      // Paused and pointing nowhere: the other tests' deliveries are not disturbed.
      body: { url, status: 'paused', headers: { 'x-tenant': 'acme-header-value' } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const { page, errors } = await openPage();
    await signIn(page);
    await page.goto(`${server.url}/#/endpoints/${encodeURIComponent(id)}`);
    await page.getByRole('heading', { name: url, level: 1 }).waitFor();
    await page.getByText('Change URL, types, filter, headers, limits').click();
    const headers = page.getByLabel('Custom headers (one "name: value" per line)');
    expect(await headers.inputValue()).toBe('x-tenant: [redacted]');
    expect(await page.content()).not.toContain('acme-header-value');

    await page.getByRole('button', { name: 'Reveal values' }).click();
    await waitFor('the revealed values', async () =>
      (await headers.inputValue()) === 'x-tenant: acme-header-value' ? true : undefined,
    );
    await headers.fill('x-tenant: globex-header-value');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Endpoint saved').waitFor();
    const revealed = await api<{ headers: Record<string, string> }>(
      server.url,
      `/v1/endpoints/${id}/headers`,
    );
    expect(revealed.body.headers).toEqual({ 'x-tenant': 'globex-header-value' });
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('opens every page without a script error, in the dark theme too', async () => {
    const email = 'dark.theme@example.com';
    expect((await api(server.url, '/v1/suppressions', { method: 'POST', body: { email } })).status).toBe(201);
    const { page, errors } = await openPage();
    await page.emulateMedia({ colorScheme: 'dark' });
    await signIn(page);
    for (const [hash, heading] of [
      ['events', 'Events'],
      ['tail', 'Live tail'],
      [`recipients/${email}`, email],
      ['quarantine', 'Quarantine'],
      ['sources', 'Sources'],
      ['endpoints', 'Endpoints'],
      ['suppressions', 'Suppressions'],
    ] as const) {
      await page.goto(`${server.url}/#/${hash}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    }
    await page.getByRole('cell', { name: email }).first().waitFor();
    await shot(page, '7-suppressions-dark');
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);
});

describe('dashboard files', () => {
  let app: TestApp;
  const ASSETS = join(REPO_ROOT, 'src', 'web', 'assets');

  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  const get = (url: string, headers: Record<string, string> = {}) =>
    app.server.inject({ method: 'GET', url, headers });

  function assetFiles(dir = ASSETS): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? assetFiles(join(dir, entry.name))
        : [relative(ASSETS, join(dir, entry.name)).split('\\').join('/')],
    );
  }

  it('serves the page with a policy that lets it load and call only its own origin', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.body).toContain('/assets/app.js');
    const again = await get('/', { 'if-none-match': String(res.headers.etag) });
    expect(again.statusCode).toBe(304);
  });

  it('serves every module the page imports, and nothing outside the assets folder', async () => {
    const files = assetFiles();
    for (const file of files) {
      const res = await get(`/assets/${file}`);
      expect(res.statusCode, file).toBe(200);
      if (file.endsWith('.js')) {
        expect(res.headers['content-type']).toMatch(/^text\/javascript/);
        for (const [, spec] of res.body.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
          const target = posix.normalize(posix.join(posix.dirname(file), spec ?? ''));
          expect(files, `${file} imports ${spec}`).toContain(target);
        }
      }
    }
    for (const url of [
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/',
      '/assets/nope.js',
    ]) {
      expect((await get(url)).statusCode, url).toBe(404);
    }
    expect(readFileSync(join(dirname(ASSETS), 'index.html'), 'utf8')).not.toMatch(/<script(?![^>]*src=)/);
  });

  it('gives the dashboard no data without an API key', async () => {
    for (const url of [
      '/v1/events/stream',
      '/v1/events',
      '/v1/stats',
      '/v1/sources',
      '/v1/endpoints',
      '/v1/inbox',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(401);
    }
  });
});
