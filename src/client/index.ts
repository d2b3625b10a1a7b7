import { type CallOptions, type Method, Transport, type TransportOptions } from './http.js';
import type {
  ApiKey,
  CanonicalEvent,
  CreatedApiKey,
  CreatedEndpoint,
  Delivery,
  DeliveryStatus,
  DeliveryWithAttempts,
  Endpoint,
  EndpointHeaders,
  EndpointHealth,
  EndpointInput,
  EndpointPatch,
  EndpointSecret,
  EventQuery,
  List,
  MessageTimeline,
  Page,
  PublishInput,
  Reconciliation,
  Replay,
  Source,
  SourceInput,
  SourcePatch,
  Stats,
  StatsQuery,
  SuppressionAnswer,
  SuppressionQuery,
  SuppressionReason,
  TestSend,
} from './types.js';

/**
 * The typed client of mailhook's /v1 API (`import { MailhookClient } from 'mailhook/client'`).
 * Errors are thrown as MailhookApiError (`status`, stable `code`) or MailhookConnectionError.
 *
 *   const mailhook = new MailhookClient({ url: 'http://127.0.0.1:8787', apiKey: process.env.MAILHOOK_API_KEY });
 *   const { suppressed } = await mailhook.suppressions.get('user@example.com');
 */

export { MailhookApiError, MailhookConnectionError } from './http.js';
export type * from './types.js';

export interface MailhookClientOptions extends Partial<TransportOptions> {}

export const DEFAULT_URL = 'http://127.0.0.1:8787';

const seg = encodeURIComponent;

export class MailhookClient {
  private readonly http: Transport;

  constructor(options: MailhookClientOptions = {}) {
    this.http = new Transport({ ...options, url: options.url ?? DEFAULT_URL });
  }

  /** The base URL requests go to. */
  get url(): string {
    return this.http.baseUrl;
  }

  /** Any route, for what the resource helpers do not cover. */
  request<T>(method: Method, path: string, options?: CallOptions): Promise<T> {
    return this.http.call<T>(method, path, options);
  }

  readonly sources = {
    create: (input: SourceInput) => this.request<Source>('POST', '/v1/sources', { body: input }),
    list: () => this.request<List<Source>>('GET', '/v1/sources'),
    get: (id: string) => this.request<Source>('GET', `/v1/sources/${seg(id)}`),
    update: (id: string, patch: SourcePatch) =>
      this.request<Source>('PATCH', `/v1/sources/${seg(id)}`, { body: patch }),
    delete: (id: string) => this.request<void>('DELETE', `/v1/sources/${seg(id)}`),
    /** Starts reading a time range of the source's events back from its provider's API, in the background. */
    reconcile: (id: string, input: { since: string; until?: string }) =>
      this.request<Reconciliation>('POST', `/v1/sources/${seg(id)}/reconcile`, { body: input }),
    getReconciliation: (id: string, jobId: string) =>
      this.request<Reconciliation>('GET', `/v1/sources/${seg(id)}/reconciliations/${seg(jobId)}`),
    /** The source's recent reconciliations, newest first. */
    listReconciliations: (id: string) =>
      this.request<List<Reconciliation>>('GET', `/v1/sources/${seg(id)}/reconciliations`),
  };

  readonly endpoints = {
    create: (input: EndpointInput) => this.request<CreatedEndpoint>('POST', '/v1/endpoints', { body: input }),
    list: () => this.request<List<Endpoint>>('GET', '/v1/endpoints'),
    get: (id: string) => this.request<Endpoint>('GET', `/v1/endpoints/${seg(id)}`),
    update: (id: string, patch: EndpointPatch) =>
      this.request<Endpoint>('PATCH', `/v1/endpoints/${seg(id)}`, { body: patch }),
    delete: (id: string) => this.request<void>('DELETE', `/v1/endpoints/${seg(id)}`),
    pause: (id: string) => this.request<Endpoint>('POST', `/v1/endpoints/${seg(id)}/pause`),
    resume: (id: string) => this.request<Endpoint>('POST', `/v1/endpoints/${seg(id)}/resume`),
    health: (id: string) => this.request<EndpointHealth>('GET', `/v1/endpoints/${seg(id)}/health`),
    secret: (id: string) => this.request<EndpointSecret>('GET', `/v1/endpoints/${seg(id)}/secret`),
    /** The custom header values, which every other endpoint answer masks. */
    headers: (id: string) => this.request<EndpointHeaders>('GET', `/v1/endpoints/${seg(id)}/headers`),
    rotateSecret: (id: string, input: { secret?: string; grace_seconds?: number } = {}) =>
      this.request<{ secret: string; previous_expires_at: string | null }>(
        'POST',
        `/v1/endpoints/${seg(id)}/rotate-secret`,
        { body: input },
      ),
    /** Sends a sample event (not stored) through the real delivery path. */
    test: (id: string, type?: string) =>
      this.request<TestSend>('POST', `/v1/endpoints/${seg(id)}/test`, { body: type ? { type } : {} }),
    /** Starts sending a time range of stored events again, in the background. */
    replay: (id: string, input: { since: string; until?: string; types?: string[] }) =>
      this.request<Replay>('POST', `/v1/endpoints/${seg(id)}/replay`, { body: input }),
    getReplay: (id: string, replayId: string) =>
      this.request<Replay>('GET', `/v1/endpoints/${seg(id)}/replays/${seg(replayId)}`),
    deliveries: (id: string, query: { status?: DeliveryStatus; limit?: number; cursor?: string } = {}) =>
      this.request<Page<Delivery>>('GET', `/v1/endpoints/${seg(id)}/deliveries`, { query }),
  };

  readonly events = {
    /** Newest first; pass `next_cursor` back as `cursor` for the next page. */
    list: (query: EventQuery = {}) => this.request<Page<CanonicalEvent>>('GET', '/v1/events', { query }),
    get: (id: string) => this.request<CanonicalEvent>('GET', `/v1/events/${seg(id)}`),
    /** Every matching event, page after page. */
    iterate: (query: EventQuery = {}) => this.pages((cursor) => this.events.list({ ...query, cursor })),
    redeliver: (id: string, endpointId?: string) =>
      this.request<{ deliveries: Array<{ id: string; endpoint_id: string }> }>(
        'POST',
        `/v1/events/${seg(id)}/redeliver`,
        { body: endpointId ? { endpoint_id: endpointId } : {} },
      ),
  };

  readonly deliveries = {
    get: (id: string) => this.request<DeliveryWithAttempts>('GET', `/v1/deliveries/${seg(id)}`),
    retry: (id: string) => this.request<Delivery>('POST', `/v1/deliveries/${seg(id)}/retry`),
    /** An endpoint's deliveries, newest first. */
    list: (endpointId: string, query: { status?: DeliveryStatus; limit?: number; cursor?: string } = {}) =>
      this.endpoints.deliveries(endpointId, query),
  };

  readonly suppressions = {
    /** May mail still go to this address? `group` also counts that unsubscribe group. */
    get: (email: string, group?: string) =>
      this.request<SuppressionAnswer>('GET', `/v1/suppressions/${seg(email)}`, { query: { group } }),
    check: (emails: string[], group?: string) =>
      this.request<List<SuppressionAnswer>>('POST', '/v1/suppressions/check', {
        body: { emails, ...(group && { group }) },
      }),
    list: (query: SuppressionQuery = {}) =>
      this.request<Page<SuppressionReason>>('GET', '/v1/suppressions', { query }),
    iterate: (query: SuppressionQuery = {}) =>
      this.pages((cursor) => this.suppressions.list({ ...query, cursor })),
    add: (email: string, options: { group?: string; detail?: string } = {}) =>
      this.request<SuppressionAnswer>('POST', '/v1/suppressions', { body: { email, ...options } }),
    remove: (email: string, filter: { group?: string; reason?: string } = {}) =>
      this.request<SuppressionAnswer & { removed: number }>('DELETE', `/v1/suppressions/${seg(email)}`, {
        query: filter,
      }),
    /** The whole list as CSV. */
    exportCsv: () => this.request<string>('GET', '/v1/suppressions.csv', { text: true }),
  };

  readonly messages = {
    get: (messageId: string) => this.request<MessageTimeline>('GET', `/v1/messages/${seg(messageId)}`),
  };

  readonly stats = {
    get: (query: StatsQuery = {}) => this.request<Stats>('GET', '/v1/stats', { query }),
  };

  readonly keys = {
    create: (name: string) => this.request<CreatedApiKey>('POST', '/v1/keys', { body: { name } }),
    list: () => this.request<List<ApiKey>>('GET', '/v1/keys'),
    /** `confirm: 'self'` is needed to revoke the key this client runs with (the server refuses otherwise). */
    revoke: (id: string, options: { confirm?: 'self' } = {}) =>
      this.request<void>('DELETE', `/v1/keys/${seg(id)}`, { query: { confirm: options.confirm } }),
  };

  /**
   * Publishes your own event (stored and fanned out like provider events). With an idempotency key,
   * the same key returns the same event and creates nothing new.
   */
  publish(event: PublishInput, options: { idempotencyKey?: string } = {}): Promise<CanonicalEvent> {
    return this.request<CanonicalEvent>('POST', '/v1/events', {
      body: event,
      ...(options.idempotencyKey && { headers: { 'idempotency-key': options.idempotencyKey } }),
    });
  }

  /** Publishes up to 1000 events in one transaction. */
  publishBatch(
    events: PublishInput[],
    options: { idempotencyKey?: string } = {},
  ): Promise<List<{ event: CanonicalEvent; created: boolean }>> {
    return this.request('POST', '/v1/events', {
      body: { events },
      ...(options.idempotencyKey && { headers: { 'idempotency-key': options.idempotencyKey } }),
    });
  }

  private async *pages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page = await fetchPage(cursor);
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }
}
