import { getAdapter } from '../providers/registry.js';
import { findReader } from './registry.js';
import type { EventReader, ReaderConfig } from './types.js';

/** The config keys that belong to reconciliation, not to the webhook adapter. */
const API_KEYS = ['api_key', 'api_base_url', 'domain'] as const;

/**
 * A source's config, checked: the webhook part by the provider's adapter, the API part (api_key,
 * api_base_url, domain) by its event reader when it has one. Throws MailhookError
 * MH_ERR_INVALID_SOURCE_CONFIG, naming the field.
 */
export function validateSourceConfig(provider: string, config: unknown): Record<string, unknown> {
  const adapter = getAdapter(provider);
  const reader = findReader(adapter.id);
  if (!reader || typeof config !== 'object' || config === null || Array.isArray(config))
    return adapter.validateConfig(config);
  const webhook: Record<string, unknown> = {};
  const api: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if ((API_KEYS as readonly string[]).includes(key)) api[key] = value;
    else webhook[key] = value;
  }
  return { ...adapter.validateConfig(webhook), ...reader.validateConfig(api) };
}

/** The API credentials a source holds, or null when it has none (reconciliation off for it). */
export function readerConfigOf(provider: string, config: Record<string, unknown>): ReaderConfig | null {
  const reader = findReader(provider);
  return reader ? apiConfigOf(reader, config) : null;
}

export function apiConfigOf(reader: EventReader, config: Record<string, unknown>): ReaderConfig | null {
  if (typeof config.api_key !== 'string' || config.api_key === '') return null;
  const base =
    typeof config.api_base_url === 'string' && config.api_base_url !== ''
      ? config.api_base_url
      : reader.defaultBaseUrl;
  return {
    apiKey: config.api_key,
    apiBaseUrl: base.replace(/\/+$/, ''),
    ...(typeof config.domain === 'string' && { domain: config.domain }),
  };
}
