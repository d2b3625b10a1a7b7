import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  activeTracer,
  contextOfTraceparent,
  linkTo,
  startTestTracing,
  startTracing,
  traceparentOf,
  tracingWanted,
} from '../../../src/tracing/tracing.js';

describe('tracingWanted', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
    [endpoint, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'true' }, false],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'TRUE ' }, false],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'false' }, true],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, false],
  ])('%j → %s', (env, wanted) => {
    expect(tracingWanted(env)).toBe(wanted);
  });
});

describe('stored trace contexts', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('reads back the traceparent a span wrote, and ignores one that is not valid', async () => {
    const tracing = await startTestTracing();
    try {
      const span = activeTracer()?.startSpan('ingest');
      expect(span).toBeDefined();
      if (!span) return;
      const written = traceparentOf(span);
      expect(written).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      expect(trace.getSpanContext(contextOfTraceparent(written))?.spanId).toBe(span.spanContext().spanId);
      expect(linkTo(written)?.context.traceId).toBe(span.spanContext().traceId);
      for (const bad of [
        undefined,
        '',
        'garbage',
        '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      ]) {
        expect(linkTo(bad)).toBeNull();
        expect(trace.getSpanContext(contextOfTraceparent(bad))).toBeUndefined();
      }
      span.end();
    } finally {
      await tracing.stop();
    }
    expect(activeTracer()).toBeNull();
  });

  it('starts nothing when no endpoint is configured', async () => {
    expect(await startTracing({})).toBeNull();
    expect(activeTracer()).toBeNull();
  });
});

interface Export {
  path: string;
  contentType: string;
  body: Buffer;
}

/** A stand-in OTLP/HTTP collector on 127.0.0.1 that keeps what it is sent. */
async function collector(): Promise<{ url: string; exports: Export[]; server: Server }> {
  const exports: Export[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      exports.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports, server };
}

describe('the OTLP exporter', () => {
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    ['http/json', 'application/json'],
    ['', 'application/x-protobuf'],
    ['http/protobuf', 'application/x-protobuf'],
  ])('protocol "%s" posts %s to /v1/traces, flushed by shutdown', async (protocol, contentType) => {
    const { url, exports, server } = await collector();
    try {
      vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', url);
      vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', protocol);
      vi.stubEnv('OTEL_SERVICE_NAME', 'mailhook-unit');
      const tracing = await startTracing(process.env);
      expect(tracing).not.toBeNull();
      activeTracer()?.startSpan('pipeline.batch').end();
      await tracing?.shutdown();
      expect(activeTracer()).toBeNull();
      expect(exports.map((e) => [e.path, e.contentType])).toEqual([['/v1/traces', contentType]]);
      const body = exports[0]?.body.toString('latin1') ?? '';
      expect(body).toContain('pipeline.batch');
      expect(body).toContain('mailhook-unit');
    } finally {
      server.close();
    }
  });
});
