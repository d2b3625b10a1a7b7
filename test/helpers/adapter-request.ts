import type { ProviderAdapter, RawRequest, Source } from '../../src/providers/types.js';

/** A source of the adapter's provider, its `config` passed through the adapter's own validation. */
export function adapterSource(adapter: ProviderAdapter, config: unknown): Source {
  const now = new Date();
  return {
    id: 'src_test',
    name: adapter.id,
    provider: adapter.id,
    config: adapter.validateConfig(config),
    enabled: true,
    createdAt: now,
    updatedAt: now,
  };
}

/** A request as the ingest route hands it to an adapter: raw bytes, header names lower-cased. */
export function rawRequest(
  body: string | Buffer,
  headers: Record<string, string> = {},
  extra: Partial<Pick<RawRequest, 'method' | 'query'>> = {},
): RawRequest {
  return {
    method: extra.method ?? 'POST',
    path: '/ingest/src_test',
    query: extra.query ?? '',
    headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    receivedAt: new Date(),
  };
}
