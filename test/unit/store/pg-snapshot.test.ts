import { describe, expect, it } from 'vitest';
import { snapshotXmax } from '../../../src/store/postgres/snapshot.js';

describe('snapshotXmax', () => {
  it('reads the xmax of a snapshot in its text form, running transactions listed or not', () => {
    expect(snapshotXmax('748:760:748,751,759')).toBe(760n);
    expect(snapshotXmax('760:760:')).toBe(760n);
    expect(snapshotXmax('18446744073709551000:18446744073709551615:')).toBe(18446744073709551615n);
  });

  it('refuses text that is not a snapshot rather than skipping by a wrong bound', () => {
    for (const text of ['', '760', '1:2', 'a:b:', '1:2:3;DROP']) expect(() => snapshotXmax(text)).toThrow();
  });
});
