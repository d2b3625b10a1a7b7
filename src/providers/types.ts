import type { ParsedEvent } from '../events.js';

/** The HTTP request a provider sent, byte for byte as far as the signature is concerned. */
export interface RawRequest {
  method: string;
  /** Path of the request, without the query string. */
  path: string;
  /** Raw query string without `?` ('' when none). */
  query: string;
  /** Header names lowercased; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
  receivedAt: Date;
}

export interface Source {
  id: string;
  name: string;
  provider: string;
  /** Credentials and provider options; write-only in the API. */
  config: Record<string, unknown>;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface VerifyContext {
  now: Date;
  /** Accepted age of a signed timestamp, in seconds; 0 disables the freshness check. */
  toleranceSec: number;
}

export type Verification = { ok: true } | { ok: false; reason: string };

export interface SkippedItem {
  index: number;
  reason: string;
}

export interface ParseResult {
  events: ParsedEvent[];
  /** Items of the request that are not email events mailhook knows (kept in the raw inbox row). */
  skipped: SkippedItem[];
}

export interface ProviderAdapter {
  id: string;
  displayName: string;
  /** Checks and normalises a source's `config`; throws MailhookError MH_ERR_INVALID_SOURCE_CONFIG. */
  validateConfig(config: unknown): Record<string, unknown>;
  /** Pure and synchronous: signature, credentials or token. Never throws for bad input. */
  verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification;
  /** Pure: throws MalformedPayloadError when the verified body cannot be understood. */
  parse(req: RawRequest): ParseResult;
  /** What to paste into the provider's dashboard. */
  setup(source: Source, ingestUrl: string): string;
}

export const verified: Verification = { ok: true };

export function rejected(reason: string): Verification {
  return { ok: false, reason };
}
