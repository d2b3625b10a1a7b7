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
  /** What the provider's handshakes left behind (e.g. the SNS subscription's confirmation). */
  state?: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

/** A minimal HTTP GET/POST for the few adapters that must reach out (SNS); injected, so tests control it. */
export type Fetcher = (
  url: string,
  init?: { method?: 'GET' | 'POST'; timeoutMs?: number },
) => Promise<{ status: number; text: string }>;

export interface VerifyContext {
  now: Date;
  /** Accepted age of a signed timestamp, in seconds; 0 disables the freshness check. */
  toleranceSec: number;
  /** The public ingest URL of this source, as the provider was told it (Mandrill signs it). */
  ingestUrl: string;
  /** Resolves an SNS `SigningCertURL` to its PEM certificate (pre-seeded directory, then cache, then fetch). */
  snsCertificate(url: string): Promise<string>;
  fetch: Fetcher;
}

/** What a provider handshake (SNS subscription confirmation) decided. */
export interface HandshakeResult {
  /** HTTP status to answer the provider with. */
  status: number;
  body?: unknown;
  /** Merged into the source's state, visible in the API. */
  state?: Record<string, unknown>;
  /** Also append the request to the inbox (it carries no event otherwise). */
  store: boolean;
}

/**
 * `retryable`: the request could not be checked right now (a certificate could not be fetched); the
 * provider is told to retry (503) instead of being refused for good (401).
 */
export type Verification =
  | { ok: true; oneTimeToken?: SignedToken }
  | { ok: false; reason: string; retryable?: boolean };

/**
 * A token the signature covers but the body does not (Mailgun signs only timestamp + token). The
 * ingest path binds it to the body in the store, in the commit that stores the request: the same
 * token with another body is a replayed signature and is refused.
 */
export interface SignedToken {
  token: string;
  /** When the signature stops being fresh; the binding must be kept at least until then. */
  expiresAt: Date;
}

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
  /**
   * Signature, credentials or token. Never throws for bad input. Synchronous except where a
   * certificate must be fetched (SNS).
   */
  verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification | Promise<Verification>;
  /**
   * Runs after a successful verify: null for an ordinary event post, or the answer to a handshake
   * message (SNS SubscriptionConfirmation) that the adapter handled itself.
   */
  handshake?(req: RawRequest, source: Source, ctx: VerifyContext): Promise<HandshakeResult | null>;
  /** The provider posts events as GET query strings (Elastic Email), not only POST bodies. */
  acceptsGet?: boolean;
  /**
   * The provider retries with the original signature for this long (Mailgun: 8 hours), so the
   * freshness window is at least this wide; otherwise its retries would be refused and lost.
   */
  minToleranceSec?: number;
  /** Query parameters that carry credentials (Elastic Email's token); redacted before the row is stored. */
  secretQueryParams?: readonly string[];
  /** Pure: throws MalformedPayloadError when the verified body cannot be understood. */
  parse(req: RawRequest): ParseResult;
  /** What to paste into the provider's dashboard. */
  setup(source: Source, ingestUrl: string): string;
}

export const verified: Verification = { ok: true };

/** Verified, provided the token is still unbound or bound to this body (checked when it is stored). */
export function verifiedWithToken(oneTimeToken: SignedToken): Verification {
  return { ok: true, oneTimeToken };
}

export function rejected(reason: string): Verification {
  return { ok: false, reason };
}

/** Could not verify now; ask the provider to retry. */
export function unverifiable(reason: string): Verification {
  return { ok: false, reason, retryable: true };
}
