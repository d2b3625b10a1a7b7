import type { CanonicalEvent } from '../events.js';

const bodies = new WeakMap<CanonicalEvent, string>();

/**
 * The JSON stored as an event's body and sent as its delivery payload. Kept per event object, so a
 * delivery handed off in the transaction that stored the event (hand-off.ts) reuses the string
 * instead of serializing the event a second time on the write path.
 */
export function eventBody(event: CanonicalEvent): string {
  let body = bodies.get(event);
  if (body === undefined) {
    body = JSON.stringify(event);
    bodies.set(event, body);
  }
  return body;
}
