import { planEvents, type SimEvent, type SimKind } from './plan.js';
import { LOWER_ALNUM, type Rng } from './rng.js';

/**
 * The order of a run: which request goes out when. A *valid* request carries new events; a
 * *duplicate* is a valid request sent again byte for byte (a provider retrying after a timeout); a
 * *bad* request carries other events signed with the wrong credential and must be refused.
 */
export type SlotKind = 'valid' | 'duplicate' | 'bad';

export interface Slot {
  kind: SlotKind;
  /** Which request: duplicates share their original's number, so both send the same bytes. */
  request: number;
  events: SimEvent[];
}

export interface TrafficOptions {
  /** Distinct events the source must end up storing. */
  count: number;
  /** Events per request (already clamped to what the provider batches). */
  batch: number;
  /** Extra copies of valid requests, as a share of them (0.05 = 5%). */
  duplicates: number;
  /** Extra wrongly signed requests, as a share of the valid ones. */
  badSignatures: number;
  /** Send in random order instead of the order the events happened in. */
  shuffle: boolean;
  kinds: readonly SimKind[];
  now: Date;
}

export interface Traffic {
  slots: Slot[];
  /** Valid requests (duplicates and bad ones come on top). */
  requests: number;
  duplicates: number;
  bad: number;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function planTraffic(rng: Rng, options: TrafficOptions): Traffic {
  const runId = rng.chars(8, LOWER_ALNUM);
  const events = planEvents(rng, { count: options.count, now: options.now, kinds: options.kinds, runId });
  // Shuffled traffic is out of order inside batches too, not only between them.
  if (options.shuffle) rng.shuffle(events);
  const valid: Slot[] = chunk(events, options.batch).map((batch, request) => ({
    kind: 'valid',
    request,
    events: batch,
  }));
  const duplicateCount = Math.round(valid.length * options.duplicates);
  const badCount = Math.round(valid.length * options.badSignatures);
  // Each duplicated request is picked once while there are enough of them.
  const pool = rng.shuffle(valid.map((_, i) => i));
  const duplicates: Slot[] = Array.from({ length: duplicateCount }, (_, i) => {
    const original = valid[pool[i % pool.length] ?? 0] as Slot;
    return { kind: 'duplicate', request: original.request, events: original.events };
  });
  const badEvents = planEvents(rng, {
    count: badCount * options.batch,
    now: options.now,
    kinds: options.kinds,
    runId: `${runId}-forged`,
  });
  const bad: Slot[] = chunk(badEvents, options.batch).map((batch, i) => ({
    kind: 'bad',
    request: valid.length + i,
    events: batch,
  }));

  let slots: Slot[];
  if (options.shuffle) slots = rng.shuffle([...valid, ...duplicates, ...bad]);
  else {
    // In order: a duplicate follows its original a little later, as a provider's retry does;
    // forged requests arrive at random moments.
    const keyed = [
      ...valid.map((slot, i) => ({ slot, at: i })),
      ...duplicates.map((slot) => ({ slot, at: slot.request + rng.int(1, 20) + 0.5 })),
      ...bad.map((slot) => ({ slot, at: rng.next() * valid.length })),
    ];
    slots = keyed.sort((a, b) => a.at - b.at).map((k) => k.slot);
  }
  return { slots, requests: valid.length, duplicates: duplicateCount, bad: bad.length };
}
