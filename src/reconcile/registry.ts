import { mailgunReader } from './mailgun.js';
import { postmarkReader } from './postmark.js';
import { sparkpostReader } from './sparkpost.js';
import type { EventReader } from './types.js';

/**
 * The providers whose events can be read back from their own API, with ids or natural keys equal to
 * their webhooks' (docs/reconciliation.md says why the others are not here).
 */
const READERS = new Map<string, EventReader>(
  [mailgunReader, postmarkReader, sparkpostReader].map((r) => [r.provider, r]),
);

export function findReader(provider: string): EventReader | undefined {
  return READERS.get(provider);
}

export function readerProviders(): string[] {
  return [...READERS.keys()].sort();
}
