import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { postgresAvailable } from '../helpers/postgres.js';
import {
  api,
  killAll,
  REPO_ROOT,
  removeDir,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../helpers/process.js';
import { type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';

/**
 * OpenTelemetry from a real `mailhook serve` (docs/tracing.md): OTLP/HTTP JSON exports to a stand-in
 * collector on 127.0.0.1, from every thread that makes spans (the server's ingest spans, the
 * pipeline thread's batch and attempt spans: it runs delivery on both stores), flushed when the
 * server stops; the receiver gets the attempt's
 * traceparent.
 */

const USER = 'postmark-hooks';
const PASSWORD = 'correct horse battery staple';
const DELIVERY = readFileSync(join(REPO_ROOT, 'test/fixtures/postmark/delivery.json'), 'utf8');

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  links?: Array<{ traceId: string; spanId: string }>;
}

interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

/** A stand-in OTLP/HTTP collector that keeps every JSON export it is sent. */
async function startCollector(): Promise<{ url: string; exports: OtlpExport[]; close(): Promise<void> }> {
  const exports: OtlpExport[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/json')
        exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const stores: Array<[string, () => Promise<{ env: Record<string, string>; drop(): Promise<void> }>]> = [
  ['SQLite', async () => ({ env: {}, drop: async () => {} })],
];
if (await postgresAvailable())
  stores.push([
    'PostgreSQL',
    async () => {
      const db: TestDatabase = await createTestDatabase('mh_trace');
      return { env: { DATABASE_URL: db.url }, drop: () => db.drop() };
    },
  ]);

afterAll(async () => killAll());

describe.each(stores)('OpenTelemetry export from mailhook serve on %s', (_name, makeStore) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('exports ingest, pipeline.batch and delivery.attempt spans of one trace, and sends its traceparent', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const receiver: Receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const store = await makeStore();
    cleanups.push(() => store.drop());
    const dataDir = tempDataDir();
    cleanups.push(async () => removeDir(dataDir));
    const server: ServerProcess = await startServer({
      dataDir,
      env: {
        ...store.env,
        MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'mailhook-e2e',
      },
    });
    cleanups.push(async () => void (await server.stop()));

    const source = await api<{ id: string }>(server.url, '/v1/sources', {
      method: 'POST',
      body: {
        name: 'pm',
        provider: 'postmark',
        config: { basic_auth: { username: USER, password: PASSWORD } },
      },
    });
    expect(source.status).toBe(201);
    const endpoint = await api<{ id: string; secret: string }>(server.url, '/v1/endpoints', {
      method: 'POST',
      body: { url: `${receiver.url}/hooks`, event_types: ['email.*'] },
    });
    expect(endpoint.status).toBe(201);
    receiver.secrets = [endpoint.body.secret];

    const ingested = await fetch(`${server.url}/ingest/${source.body.id}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      },
      body: DELIVERY,
    });
    expect(ingested.status).toBe(200);
    const received = await waitFor('the delivery', async () => receiver.requests[0]);
    expect(verifiedByBoth(received), JSON.stringify(received.checks)).toBe(true);

    // The batch processors export every few seconds; stopping the server flushes every thread's.
    const exit = await server.stop();
    expect(exit.code, server.stderr()).toBe(0);

    const spans = collector.exports.flatMap((e) =>
      e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );
    const named = (name: string) => spans.filter((span) => span.name === name);
    expect(named('ingest'), spans.map((s) => s.name).join(', ')).toHaveLength(1);
    expect(named('delivery.attempt')).toHaveLength(1);
    const [ingest] = named('ingest') as [OtlpSpan];
    const [attempt] = named('delivery.attempt') as [OtlpSpan];
    const batches = named('pipeline.batch');
    expect(batches.flatMap((batch) => batch.links ?? [])).toEqual([
      expect.objectContaining({ traceId: ingest.traceId, spanId: ingest.spanId }),
    ]);
    expect(attempt.traceId).toBe(ingest.traceId);
    expect(attempt.parentSpanId).toBe(ingest.spanId);
    expect(received.headers.traceparent).toBe(`00-${attempt.traceId}-${attempt.spanId}-01`);

    const serviceNames = new Set(
      collector.exports.flatMap((e) =>
        e.resourceSpans.map(
          (r) => r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
        ),
      ),
    );
    expect([...serviceNames]).toEqual(['mailhook-e2e']);
  });
});
