import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, testApp } from '../helpers/app.js';

describe('the icon browsers ask for', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('is served at /favicon.ico without a key, for pages such as /docs that declare none', async () => {
    const docs = await app.server.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).not.toMatch(/rel="(shortcut )?icon"/);
    const icon = await app.server.inject({ method: 'GET', url: '/favicon.ico' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.body).toContain('<svg');
    // The very icon the dashboard shows.
    const dashboardIcon = await app.server.inject({ method: 'GET', url: '/assets/favicon.svg' });
    expect(icon.body).toBe(dashboardIcon.body);
  });
});
