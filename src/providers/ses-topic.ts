import type { SnsMessageType } from './ses-sns.js';
import type { Source } from './types.js';

/**
 * Which SNS topic an `ses` source accepts. A valid SNS signature proves a message came from SNS, not
 * from *your* topic: any AWS account can subscribe its own topic to an ingest URL it has learnt.
 *
 * - `config.topic_arn`, when the user set one, decides (and is copied into the pin below).
 * - Otherwise trust on first use: the first verified SubscriptionConfirmation or Notification pins its
 *   `TopicArn` in the source's state (`state.sns_topic`); every message from another topic is refused
 *   from then on. Notifications pin too, so a source whose subscription was confirmed before pinning
 *   existed is closed by its own next event. An UnsubscribeConfirmation pins nothing: it announces a
 *   topic that is leaving.
 *
 * The pin is written by the ingest path after the handshake, and sources are read through a cache.
 * A message from a second topic verified in between would still see no pin, so the first verified
 * topic is also claimed here, in this process, at once; the claim holds until the stored pin is seen.
 */

/** The key of the source's state that holds the pin (its own top-level key: stores merge top-level keys). */
export const TOPIC_STATE_KEY = 'sns_topic';

export interface TopicPin {
  topic_arn: string;
  pinned_at: string;
  /** What pinned it: the first verified message's SNS `Type`, or `config.topic_arn`. */
  pinned_by: SnsMessageType | 'config.topic_arn';
}

export function configuredTopic(source: Source): string | null {
  return typeof source.config.topic_arn === 'string' ? source.config.topic_arn : null;
}

/** The topic pinned in the source's state, if any. */
export function storedPin(source: Source): string | null {
  const pin = source.state?.[TOPIC_STATE_KEY];
  if (pin === null || typeof pin !== 'object') return null;
  const topic = (pin as Partial<TopicPin>).topic_arn;
  return typeof topic === 'string' ? topic : null;
}

/**
 * Longer than any request can take from verify to the stored pin (the confirmation GET is bounded at
 * 8 s, the inbox commit at 10 s); a claim whose pin was never stored (store down) lapses after it.
 */
const CLAIM_TTL_MS = 10 * 60_000;
const MAX_CLAIMS = 10_000;
const claims = new Map<string, { topic: string; expiresMs: number }>();

function claimOf(sourceId: string, nowMs: number): string | null {
  const claim = claims.get(sourceId);
  if (!claim) return null;
  if (claim.expiresMs > nowMs) return claim.topic;
  claims.delete(sourceId);
  return null;
}

/** The topic this source accepts now, or null while any topic may still pin itself. */
export function acceptedTopic(source: Source, nowMs: number): string | null {
  const configured = configuredTopic(source);
  if (configured !== null) return configured;
  const pinned = storedPin(source);
  if (pinned !== null) {
    claims.delete(source.id);
    return pinned;
  }
  return claimOf(source.id, nowMs);
}

/**
 * Called once a message's signature is verified, synchronously with the decision to accept it: true
 * when `topic` is (now) this source's topic, false when another topic pinned or claimed it first.
 */
export function claimTopic(source: Source, topic: string, nowMs: number): boolean {
  const accepted = acceptedTopic(source, nowMs);
  if (accepted !== null) return accepted === topic;
  if (claims.size >= MAX_CLAIMS) {
    for (const [id, claim] of claims) if (claim.expiresMs <= nowMs) claims.delete(id);
    // Still full: forgetting every claim reopens only the short window claims exist to close.
    if (claims.size >= MAX_CLAIMS) claims.clear();
  }
  claims.set(source.id, { topic, expiresMs: nowMs + CLAIM_TTL_MS });
  return true;
}

/**
 * The state patch that pins `topic`, or null when the stored pin already names it. Verify has already
 * made sure `topic` is the one this source accepts, so the stored pin follows `config.topic_arn` too:
 * removing `topic_arn` later keeps the topic the user chose instead of an older pin.
 */
export function pinPatch(
  source: Source,
  topic: string,
  type: SnsMessageType,
  now: Date,
): Record<string, unknown> | null {
  if (type === 'UnsubscribeConfirmation' || storedPin(source) === topic) return null;
  const pin: TopicPin = {
    topic_arn: topic,
    pinned_at: now.toISOString(),
    pinned_by: configuredTopic(source) === topic ? 'config.topic_arn' : type,
  };
  return { [TOPIC_STATE_KEY]: pin };
}
