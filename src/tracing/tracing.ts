import {
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { InMemorySpanExporter, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';
import { VERSION } from '../version.js';

/**
 * OpenTelemetry traces (docs/tracing.md). Off unless an OTLP endpoint is configured with the standard
 * variables; then each thread that makes spans (the server's and the pipeline's, which also runs
 * delivery) starts its own provider here, since worker threads share no globals. Nothing is
 * registered with the API's globals: the code that makes spans asks `activeTracer()`, which is null
 * when off, so the hot paths cost one comparison then. The SDK and exporter are loaded only when on.
 */

type Env = Record<string, string | undefined>;

interface Active {
  tracer: Tracer;
  propagator: TextMapPropagator;
}

let active: Active | null = null;

/** The tracer of this thread, or null when tracing is off. */
export function activeTracer(): Tracer | null {
  return active === null ? null : active.tracer;
}

export interface Tracing {
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports every span ended so far and stops; later spans are not recorded. */
  shutdown(): Promise<void>;
}

const isTrue = (value: string | undefined) => value?.trim().toLowerCase() === 'true';

/**
 * Whether the standard variables ask for traces: an OTLP endpoint (general or for traces), the SDK not
 * disabled, and the traces exporter not `none`.
 */
export function tracingWanted(env: Env): boolean {
  if (isTrue(env.OTEL_SDK_DISABLED)) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/**
 * Starts tracing in this thread when the variables ask for it (tracingWanted): a BatchSpanProcessor
 * and the OTLP/HTTP exporter, which reads the endpoint, headers, timeout and compression variables
 * itself; the sampler comes from OTEL_TRACES_SAMPLER. Returns null when off or already started.
 */
export async function startTracing(env: Env = process.env, logger?: Logger): Promise<Tracing | null> {
  if (active !== null || !tracingWanted(env)) return null;
  if (logger) reportTo(logger);
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const exporter = await otlpExporter(env, logger);
  return install(new BatchSpanProcessor(exporter), env);
}

/**
 * Tests: records every span in memory as it ends (SimpleSpanProcessor), whatever the variables say.
 * `stop` uninstalls it, so the same process can run with tracing off again.
 */
export async function startTestTracing(): Promise<{
  exporter: InMemorySpanExporter;
  stop(): Promise<void>;
}> {
  if (active !== null) throw new Error('tracing is already started in this thread');
  const { InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const exporter = new InMemorySpanExporter();
  const tracing = await install(new SimpleSpanProcessor(exporter), {});
  return { exporter, stop: () => tracing.shutdown() };
}

async function install(processor: SpanProcessor, env: Env): Promise<Tracing> {
  const [{ BasicTracerProvider }, { W3CTraceContextPropagator }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
  ]);
  const provider = new BasicTracerProvider({ resource: await resourceOf(env), spanProcessors: [processor] });
  const mine: Active = {
    tracer: provider.getTracer('mailhook', VERSION),
    propagator: new W3CTraceContextPropagator(),
  };
  active = mine;
  let stopped: Promise<void> | null = null;
  return {
    flush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        if (active === mine) active = null;
        await provider.shutdown();
      })();
      return stopped;
    },
  };
}

/** `service.name` (OTEL_SERVICE_NAME, else mailhook) and `service.version`, then OTEL_RESOURCE_ATTRIBUTES. */
async function resourceOf(env: Env) {
  const { detectResources, envDetector, resourceFromAttributes } = await import('@opentelemetry/resources');
  return resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME?.trim() || 'mailhook',
    'service.version': VERSION,
  }).merge(detectResources({ detectors: [envDetector] }));
}

/**
 * The exporter for OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf`
 * (the default) or `http/json`. gRPC is not bundled (it would bring its own HTTP/2 stack).
 */
async function otlpExporter(env: Env, logger: Logger | undefined): Promise<SpanExporter> {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '')
    .trim()
    .toLowerCase();
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  if (protocol !== '' && protocol !== 'http/protobuf')
    logger?.warn(
      { protocol },
      'OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf and http/json are supported; sending http/protobuf',
    );
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter();
}

/** Export failures (collector down, refused) are otherwise silent: they go to the log as warnings. */
function reportTo(logger: Logger): void {
  const log = logger.child({ area: 'tracing' });
  const warn = (message: string, ...args: unknown[]) => log.warn({ detail: args.map(String) }, message);
  diag.setLogger(
    { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/**
 * Runs span bookkeeping so that a tracer or exporter that throws (an SDK bug) costs the work its span,
 * never the work itself: a request, a batch or a delivery attempt goes on as with tracing off, and the
 * error goes to the log as a tracing warning.
 */
export function traceSafely<T>(what: string, work: () => T, fallback: T): T {
  try {
    return work();
  } catch (err) {
    diag.warn(`${what} failed; going on without it`, err);
    return fallback;
  }
}

/** The W3C traceparent of `span`, to store with what the span produced (inbox rows, deliveries). */
export function traceparentOf(span: Span): string | undefined {
  if (active === null) return undefined;
  const carrier: Record<string, string> = {};
  active.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** The context an incoming request's `traceparent` (and `tracestate`) headers give; the root if none. */
export function contextOfHeaders(headers: Record<string, string | string[] | undefined>): Context {
  if (active === null || headers.traceparent === undefined) return ROOT_CONTEXT;
  return active.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** The context whose parent is the stored traceparent; the root when there is none or it is invalid. */
export function contextOfTraceparent(traceparent: string | undefined): Context {
  if (active === null || !traceparent) return ROOT_CONTEXT;
  return active.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

/** A link to the span a stored traceparent names, or null when there is none or it is invalid. */
export function linkTo(traceparent: string | undefined): Link | null {
  const spanContext = trace.getSpanContext(contextOfTraceparent(traceparent));
  return spanContext ? { context: spanContext } : null;
}

/** Sets `traceparent` (and `tracestate`, if any) for `span` on outbound request headers. */
export function injectHeaders(span: Span, headers: Record<string, string>): void {
  active?.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
}

/** Now, as epoch milliseconds with the monotonic clock's precision: a span's start taken before it is made. */
export function spanClock(): number {
  return performance.timeOrigin + performance.now();
}
