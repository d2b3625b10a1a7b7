import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/index.js';
import type { CanonicalEvent } from '../../src/events.js';
import { API_KEY, AUTH, type TestApp, testApp } from '../helpers/app.js';

/**
 * `mailhook events list|show|tail` print events of your own type, whose data is yours: no
 * provider, and keys named like the email fields may hold anything (or be absent).
 */

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('the CLI on events of your own type', () => {
  let app: TestApp;
  let url: string;
  const events: CanonicalEvent[] = [];

  beforeAll(async () => {
    app = await testApp();
    url = await app.server.listen({ host: '127.0.0.1', port: 0 });
    for (const data of [
      { invoice_id: 'inv_9', recipient: 42, provider: { name: 'stripe' } },
      { invoice_id: 'inv_10', recipient: 'Payer@Example.com' },
    ]) {
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: { type: 'invoice.paid', timestamp: '2026-11-26T12:00:00Z', data },
      });
      expect(res.statusCode, res.body).toBe(201);
      events.push(res.json() as CanonicalEvent);
    }
  });
  afterAll(async () => app.close());

  const cli = (...args: string[]) => run([...args, '--url', url, '--key', API_KEY]);

  it('lists them, showing a recipient only when the data has a string one', async () => {
    const { code, stdout, stderr } = await cli('events', 'list', '--type', 'invoice.paid');
    expect(code, stderr).toBe(0);
    const rows = stdout.trim().split('\n');
    expect(rows).toHaveLength(3);
    const row = (id: string) => rows.find((r) => r.includes(id)) ?? '';
    // TIME, TYPE, RECIPIENT, ID, PROVIDER: a number (or an object) in the data is not shown as one.
    const recipientOf = (line: string) => line.trim().split(/\s{2,}/)[2];
    expect(recipientOf(row(events[0]?.id ?? '?'))).toBe('-');
    expect(row(events[0]?.id ?? '?')).not.toMatch(/\s42\s|object/);
    expect(row(events[1]?.id ?? '?')).toContain('Payer@Example.com');
  });

  it('shows one with its data as published', async () => {
    const [event] = events as [CanonicalEvent];
    const { code, stdout, stderr } = await cli('events', 'show', event.id);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^type:\s+invoice\.paid$/m);
    expect(stdout).not.toContain('undefined');
    const json = stdout.slice(stdout.indexOf('{'));
    expect(JSON.parse(json)).toEqual(event);
  });

  it('tails them', async () => {
    const { code, stdout, stderr } = await cli(
      'events',
      'tail',
      '--type',
      'invoice.paid',
      '--since',
      '2026-11-26T00:00:00Z',
      '--count',
      '2',
    );
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(events[0]?.id);
    expect(lines[0]).toContain('(own type)');
    expect(lines[1]).toContain('Payer@Example.com');
  });
});
