import { describe, expect, it } from 'vitest';
import { netSuppressionWrites, type SuppressionKey, type SuppressionOp } from '../../../src/store/effects.js';
import type { SuppressionEntry } from '../../../src/store/insight-types.js';
import { between, pick, seededRandom } from '../../helpers/random.js';

const keyOf = (k: SuppressionKey) => `${k.email}|${k.scope}|${k.reason}`;

/** The table after applying `ops` one at a time, as the stores did with a statement per op. */
function oneByOne(table: Map<string, SuppressionEntry>, ops: SuppressionOp[]): Map<string, SuppressionEntry> {
  const after = new Map(table);
  for (const op of ops) {
    if (op.op === 'remove') after.delete(keyOf(op));
    else if (!after.has(keyOf(op.entry))) after.set(keyOf(op.entry), op.entry);
  }
  return after;
}

/** The table after the net writes: the deletes, then the inserts that keep a row already present. */
function netted(table: Map<string, SuppressionEntry>, ops: SuppressionOp[]): Map<string, SuppressionEntry> {
  const after = new Map(table);
  const { removes, adds } = netSuppressionWrites(ops);
  for (const key of removes) after.delete(keyOf(key));
  for (const entry of adds) if (!after.has(keyOf(entry))) after.set(keyOf(entry), entry);
  return after;
}

describe('net suppression writes', () => {
  it('leave the table as applying the ops one at a time does, for random op sequences', () => {
    const random = seededRandom(7);
    const emails = ['a@example.com', 'b@example.com', 'c@example.com'];
    const scopes = ['global', 'group:1'];
    const reasons = ['unsubscribe', 'hard_bounce'];
    let n = 0;
    const entry = (): SuppressionEntry => ({
      email: pick(random, emails),
      scope: pick(random, scopes),
      reason: pick(random, reasons),
      detail: null,
      eventId: `evt_${n++}`,
      sourceId: 'src_1',
      createdAt: new Date(n),
    });
    for (let round = 0; round < 500; round++) {
      const table = new Map<string, SuppressionEntry>();
      for (let i = between(random, 0, 3); i > 0; i--) {
        const e = entry();
        table.set(keyOf(e), e);
      }
      const ops: SuppressionOp[] = Array.from({ length: between(random, 0, 11) }, () => {
        const e = entry();
        return random() < 1 / 3
          ? { op: 'remove', email: e.email, scope: e.scope, reason: e.reason }
          : { op: 'add', entry: e };
      });
      expect(netted(table, ops)).toEqual(oneByOne(table, ops));
    }
  });

  it('write each key once, in key order', () => {
    const add = (email: string, eventId: string): SuppressionOp => ({
      op: 'add',
      entry: {
        email,
        scope: 'global',
        reason: 'unsubscribe',
        detail: null,
        eventId,
        sourceId: null,
        createdAt: new Date(0),
      },
    });
    const remove = (email: string): SuppressionOp => ({
      op: 'remove',
      email,
      scope: 'global',
      reason: 'unsubscribe',
    });
    const { removes, adds } = netSuppressionWrites([
      add('c@x', 'e1'),
      remove('b@x'),
      add('a@x', 'e2'),
      add('b@x', 'e3'),
      add('b@x', 'e4'),
      remove('b@x'),
      add('b@x', 'e5'),
      add('c@x', 'e6'),
    ]);
    expect(removes.map((k) => k.email)).toEqual(['b@x']);
    expect(adds.map((e) => [e.email, e.eventId])).toEqual([
      ['a@x', 'e2'],
      ['b@x', 'e5'],
      ['c@x', 'e1'],
    ]);
  });

  it('take two addresses that differ only in a lone surrogate for the one row they are stored as', () => {
    const entry = (email: string): SuppressionEntry => ({
      email,
      scope: 'global',
      reason: 'unsubscribe',
      detail: null,
      eventId: 'evt_1',
      sourceId: null,
      createdAt: new Date(0),
    });
    const { removes, adds } = netSuppressionWrites([
      { op: 'add', entry: entry('x\ud800@example.com') },
      { op: 'remove', email: 'x\ud801@example.com', scope: 'global', reason: 'unsubscribe' },
    ]);
    expect(removes).toEqual([{ email: 'x\ufffd@example.com', scope: 'global', reason: 'unsubscribe' }]);
    expect(adds).toEqual([]);
  });
});
