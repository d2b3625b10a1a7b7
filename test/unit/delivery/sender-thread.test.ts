import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
// The compiled module: its thread runs dist/delivery/sender-worker.js (`npm test` builds first).
import { SenderThread } from '../../../dist/delivery/sender-thread.js';
import type { DeliveryRequest } from '../../../src/delivery/http-client.js';
import { type Receiver, type ReceiverOptions, startReceiver } from '../../helpers/receiver.js';

const receivers: Receiver[] = [];
const senders: SenderThread[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const r = await startReceiver(options);
  receivers.push(r);
  return r;
}

const bodies = (r: Receiver) => r.requests.map((q) => q.body);

interface Logged {
  fields: object;
  message: string;
}

function sender(
  allowPrivate = true,
  extra: { script?: URL; answerGraceMs?: number } = {},
): { s: SenderThread; logged: Logged[] } {
  const logged: Logged[] = [];
  const s = new SenderThread(
    { allowPrivate, userAgent: 'mailhook-test/1' },
    { log: { error: (fields, message) => logged.push({ fields, message }) }, ...extra },
  );
  senders.push(s);
  return { s, logged };
}

/** A thread script of the test's own (a file URL), for threads that fail in ways the real one does not. */
function script(source: string): URL {
  const file = join(mkdtempSync(join(tmpdir(), 'mailhook-sender-')), 'thread.mjs');
  writeFileSync(file, source);
  return pathToFileURL(file);
}

const request = (url: string, body: string, timeoutMs = 5000): DeliveryRequest => ({
  url,
  headers: { 'webhook-id': `msg_${body}` },
  body,
  timeoutMs,
});

/** The thread itself, to stop it as a crash would (tests only). */
const threadOf = (s: SenderThread) => (s as unknown as { worker: Worker | null }).worker;

describe('SenderThread', () => {
  it('answers each send with its own response, however many go out in one turn', async () => {
    const target = await receiver({
      respond: (r) => ({ status: 201, headers: { 'x-echo': r.body }, body: `got ${r.body}` }),
    });
    const { s } = sender();
    const sent = Array.from({ length: 60 }, (_, i) => `{"n":${i}}`);
    const answers = await Promise.all(sent.map((body) => s.send(request(target.url, body))));
    answers.forEach((answer, i) => {
      expect(answer).toMatchObject({
        kind: 'response',
        status: 201,
        bodySnippet: `got ${sent[i]}`,
        headers: { 'x-echo': sent[i] },
      });
    });
    expect(bodies(target).sort()).toEqual([...sent].sort());
    expect(new Set(target.requests.map((q) => q.headers['user-agent']))).toEqual(
      new Set(['mailhook-test/1']),
    );
  });

  it('runs the SSRF guard in its thread: a private address is refused unless allowed', async () => {
    const target = await receiver();
    const answer = await sender(false).s.send(request(target.url, '{}'));
    expect(answer).toMatchObject({ kind: 'error', errorClass: 'forbidden_address' });
    expect(target.requests).toEqual([]);
  });

  it('answers the sends in flight as reset connections when its thread dies; sends made meanwhile wait for the next thread', async () => {
    // "stuck" is answered only after the test (the receiver's close cancels it).
    const target = await receiver({ respond: (r) => (r.body === '"stuck"' ? { delayMs: 60_000 } : {}) });
    const { s, logged } = sender();
    expect(await s.send(request(target.url, '"first"'))).toMatchObject({ status: 200 });
    const stuck = s.send(request(target.url, '"stuck"'));
    await expect.poll(() => target.inflight(), { timeout: 10_000 }).toBe(1);
    const first = threadOf(s);
    await first?.terminate();
    expect(await stuck).toMatchObject({ kind: 'error', errorClass: 'connection_reset' });
    expect(logged.map((l) => l.message)).toContain(
      'the delivery sender thread stopped; its requests in flight are retried',
    );
    // Within the restart's backoff: this one waits for the new thread instead of failing.
    expect(await s.send(request(target.url, '"after"'))).toMatchObject({ kind: 'response', status: 200 });
    expect(threadOf(s)).not.toBe(first);
  });

  it('settles every send when its thread cannot even load, and logs why', async () => {
    const { s, logged } = sender(true, { script: script("throw new Error('cannot load');\n") });
    const answers = await Promise.all([
      s.send(request('http://127.0.0.1:9/a', '1')),
      s.send(request('http://127.0.0.1:9/b', '2')),
    ]);
    for (const answer of answers)
      expect(answer).toMatchObject({ kind: 'error', errorClass: 'connection_reset' });
    // The next thread starts after a backoff and fails the same way: settled, not left waiting.
    expect(await s.send(request('http://127.0.0.1:9/c', '3'))).toMatchObject({ kind: 'error' });
    expect(
      logged.filter((l) => l.message === 'the delivery sender thread failed').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it("stops a thread that no longer answers past a request's deadline", async () => {
    const silent = script(
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n",
    );
    const { s, logged } = sender(true, { script: silent, answerGraceMs: 100 });
    const started = Date.now();
    const answer = await s.send(request('http://127.0.0.1:9/never', '{}', 50));
    expect(answer).toMatchObject({ kind: 'error', errorClass: 'connection_reset' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logged.map((l) => l.message)).toContain('the delivery sender thread stopped answering');
  });

  it('sends what it was given in the same turn as close, then closes', async () => {
    const target = await receiver();
    const { s } = sender();
    const sent = s.send(request(target.url, '"with-close"'));
    await s.close();
    expect(await sent).toMatchObject({ kind: 'response', status: 200 });
    expect(bodies(target)).toEqual(['"with-close"']);
    // Sent by the thread that close() then stopped, not by one started after it.
    expect(threadOf(s)).toBeNull();
  });

  it('lets a send in flight finish before closing, and refuses sends after', async () => {
    const target = await receiver({ respond: () => ({ delayMs: 200, body: 'slow' }) });
    const { s } = sender();
    const inFlight = s.send(request(target.url, '"slow"'));
    await expect.poll(() => target.requests.length, { timeout: 10_000 }).toBe(1);
    await s.close();
    expect(await inFlight).toMatchObject({ kind: 'response', status: 200, bodySnippet: 'slow' });
    expect(await s.send(request(target.url, '"late"'))).toMatchObject({ kind: 'error', errorClass: 'other' });
    expect(threadOf(s)).toBeNull();
  });
});
