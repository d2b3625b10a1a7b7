import type { SimEvent, SimKind } from './plan.js';
import type { Rng } from './rng.js';

/** One HTTP request exactly as the provider would send it. */
export interface SimRequest {
  method: 'POST' | 'GET';
  /** Query parameters to append to the target URL, without `?` ('' for none). */
  query: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The exact bytes that were signed ('' for a GET). */
  body: string;
}

export interface SimContext {
  rng: Rng;
  /** When the request is made: signed timestamps carry it. */
  now: Date;
  /** The target URL as given to `--url` (Mandrill signs it). */
  url: string;
}

/** Reads a key file named by `--key`; injected so generators stay free of I/O. */
export interface KeyFiles {
  read(path: string): string;
  /** The names of the files in a directory (the SNS certificate directory). */
  list(dir: string): string[];
}

/**
 * A provider as the simulator plays it. `request` is pure: given the events, the credential and a
 * seeded RNG it builds the request the provider would send, signed the provider's way.
 */
export interface Simulator<C = unknown> {
  id: string;
  /** The kinds of event this provider reports (Postal has no complaints). */
  kinds: readonly SimKind[];
  /** Most events one request may carry (1 for providers that post one event per request). */
  maxBatch: number;
  /** What `--key` means for this provider, for `mailhook simulate --help`. */
  keyHelp: string;
  /** Reads `--key` (all values given); throws UsageError naming what is wrong. */
  credential(keys: string[], files: KeyFiles): C;
  /** A credential of the same shape with the wrong secret: requests made with it must be refused. */
  forge(credential: C, rng: Rng): C;
  /** The source `config` (POST /v1/sources) that accepts requests made with `credential`. */
  sourceConfig(credential: C): Record<string, unknown>;
  request(events: SimEvent[], credential: C, ctx: SimContext): SimRequest;
  /** For providers with key pairs (`--key generate`): a new private key PEM and the matching config. */
  generate?(): { privateKeyPem: string; sourceConfig: Record<string, unknown> };
}

/** Erases the credential type so simulators of every provider fit one list. */
export type AnySimulator = Simulator<unknown>;

export function simulator<C>(definition: Simulator<C>): AnySimulator {
  return definition as unknown as AnySimulator;
}
