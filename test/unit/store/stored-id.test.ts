import { describe, expect, it } from 'vitest';
import { encodeTime, newId } from '../../../src/ids.js';
import { idBytes, idBytesTime, idText, idTimeBound } from '../../../src/store/stored-id.js';

describe('stored ids', () => {
  it('turn every id mailhook makes into 16 bytes and back', () => {
    for (let i = 0; i < 2000; i++) {
      for (const [kind, prefix] of [
        ['event', 'evt'],
        ['inbox', 'in'],
      ] as const) {
        const id = newId(kind);
        const bytes = idBytes(id, prefix);
        expect(Buffer.isBuffer(bytes)).toBe(true);
        expect((bytes as Buffer).length).toBe(16);
        expect(idText(bytes, prefix)).toBe(id);
      }
    }
    for (const id of ['evt_00000000000000000000000000', 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ']) {
      expect(idText(idBytes(id, 'evt'), 'evt')).toBe(id);
    }
  });

  it('sort as the ids do, and keep the time in the first 6 bytes', () => {
    const times = [0, 1, 1_700_000_000_000, 1_796_607_196_865, 2 ** 48 - 2];
    const at = (t: number) => `evt_${encodeTime(t)}${newId('event').slice(-16)}`;
    const ids = times.flatMap((t) => [at(t), at(t), `evt_${encodeTime(t)}0000000000000000`]).sort();
    const stored = ids.map((id) => idBytes(id, 'evt') as Buffer);
    const sorted = [...stored].sort(Buffer.compare);
    expect(sorted.map((b) => idText(b, 'evt'))).toEqual(ids);
    for (const t of times) {
      const id = idBytes(at(t), 'evt') as Buffer;
      expect(idBytesTime(id)).toBe(t);
      expect(Buffer.compare(idTimeBound(t), id)).toBe(-1);
      expect(Buffer.compare(idTimeBound(t + 1), id)).toBe(1);
    }
  });

  it('keep as they are the strings that are not exactly such an id', () => {
    const others = [
      'evt_8ZZZZZZZZZZZZZZZZZZZZZZZZZ', // 130 bits
      'evt_01M9724FP6V5NZJEFM1A5JMGR', // one short
      'evt_01M9724FP6V5NZJEFM1A5JMGR6X',
      'evt_01m9724fp6v5nzjefm1a5jmgr6', // lower case
      'evt_01M9724FP6V5NZJEFM1A5JMGRU', // U is not in the alphabet
      'in_01M9724FP266DPAGH16156BAYY', // another kind's id
      'evt-01M9724FP6V5NZJEFM1A5JMGR6',
      'evt_bare',
      '',
    ];
    for (const id of others) expect(idBytes(id, 'evt')).toBe(id);
    expect(idText('evt_bare', 'evt')).toBe('evt_bare');
    expect(idText(null, 'in')).toBe(null);
  });
});
