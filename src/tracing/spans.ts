import {
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import type { DeliveryResponse } from '../delivery/http-client.js';
import type { BatchSummary, ClaimedDelivery } from '../store/store.js';
import { contextOfTraceparent, injectHeaders, linkTo, traceSafely } from './tracing.js';

/**
 * The pipeline's and the delivery worker's spans (docs/tracing.md); the ingest span is made by the
 * route (src/ingest/route.ts). Called only when a tracer is active.
 */

/**
 * One `pipeline.batch` span for a processed batch, made once it is over (its rows and traces are known
 * only inside the transaction): from `startTime`, linked to the ingest span of every traced row. A
 * batch's rows come from many requests, so they are links, not parents; the SDK keeps the first
 * OTEL_SPAN_LINK_COUNT_LIMIT (128) of them.
 */
export function recordBatchSpan(tracer: Tracer, batch: BatchSpan): void {
  traceSafely('recording a pipeline.batch span', () => makeBatchSpan(tracer, batch), undefined);
}

interface BatchSpan {
  startTime: number;
  traces: ReadonlyArray<string | undefined>;
  summary?: BatchSummary;
  inline?: boolean;
  error?: unknown;
}

function makeBatchSpan(tracer: Tracer, batch: BatchSpan): void {
  const links: Link[] = [];
  for (const traceparent of batch.traces) {
    const link = linkTo(traceparent);
    if (link) links.push(link);
  }
  const { summary } = batch;
  const span = tracer.startSpan(
    'pipeline.batch',
    {
      kind: SpanKind.INTERNAL,
      startTime: batch.startTime,
      links,
      attributes: {
        'mailhook.batch.rows': summary?.rows ?? batch.traces.length,
        'mailhook.batch.inline': batch.inline ?? false,
        ...(summary && {
          'mailhook.batch.events': summary.inserted,
          'mailhook.batch.duplicates': summary.duplicates,
          'mailhook.batch.quarantined': summary.quarantined,
          'mailhook.batch.deliveries': summary.deliveries,
        }),
      },
    },
    ROOT_CONTEXT,
  );
  if (batch.error !== undefined) {
    span.recordException(batch.error instanceof Error ? batch.error : String(batch.error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the batch was rolled back' });
  }
  span.end();
}

/**
 * A `delivery.attempt` span, child of the ingest span the delivery's event came from (its stored
 * traceparent; a root for published, reconciled and replayed events), and its W3C headers on the
 * outbound request so the receiver's spans join the same trace.
 */
export function startAttemptSpan(
  tracer: Tracer,
  item: ClaimedDelivery,
  headers: Record<string, string>,
): Span | null {
  return traceSafely('starting a delivery.attempt span', () => makeAttemptSpan(tracer, item, headers), null);
}

function makeAttemptSpan(tracer: Tracer, item: ClaimedDelivery, headers: Record<string, string>): Span {
  const { delivery, endpoint } = item;
  const span = tracer.startSpan(
    'delivery.attempt',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'mailhook.delivery.id': delivery.id,
        'mailhook.endpoint.id': endpoint.id,
        'mailhook.event.id': delivery.eventId,
        'mailhook.delivery.attempt': delivery.attempts + 1,
        'mailhook.delivery.origin': delivery.origin,
        'http.request.method': 'POST',
        'server.address': hostOf(endpoint.url),
      },
    },
    contextOfTraceparent(item.trace),
  );
  try {
    injectHeaders(span, headers);
  } catch (err) {
    // The caller goes on without the span: end it rather than leave it open.
    span.end();
    throw err;
  }
  return span;
}

/** What became of the delivery after this attempt: delivered, to be retried, or given up. */
export type AttemptSpanOutcome = 'succeeded' | 'retrying' | 'failed';

export function endAttemptSpan(
  span: Span,
  response: DeliveryResponse,
  outcome: AttemptSpanOutcome,
  error: string | null,
): void {
  traceSafely(
    'ending a delivery.attempt span',
    () => finishAttemptSpan(span, response, outcome, error),
    undefined,
  );
}

function finishAttemptSpan(
  span: Span,
  response: DeliveryResponse,
  outcome: AttemptSpanOutcome,
  error: string | null,
): void {
  span.setAttribute('mailhook.delivery.outcome', outcome);
  if (response.kind === 'response') span.setAttribute('http.response.status_code', response.status);
  else span.setAttribute('error.type', response.errorClass);
  if (outcome !== 'succeeded') {
    if (response.kind === 'response') span.setAttribute('error.type', String(response.status));
    span.setStatus({ code: SpanStatusCode.ERROR, ...(error !== null && { message: error }) });
  }
  span.end();
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
