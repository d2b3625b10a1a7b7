import { describe, expect, it } from 'vitest';
import { hasPrefix, isId, newId, ulid } from '../../src/ids.js';

describe('ids', () => {
  it('prefixes ids with their kind and a 26-character Crockford base32 body', () => {
    expect(newId('event')).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(newId('source')).toMatch(/^src_/);
    expect(hasPrefix(newId('inbox'), 'inbox')).toBe(true);
    expect(hasPrefix(newId('inbox'), 'event')).toBe(false);
  });

  it('isId accepts exactly an id of the kind: prefix and a 26-character ULID', () => {
    const id = newId('delivery');
    expect(isId(id, 'delivery')).toBe(true);
    expect(isId(id, 'inbox')).toBe(false);
    expect(isId(`${id}0`, 'delivery')).toBe(false);
    expect(isId(id.slice(0, -1), 'delivery')).toBe(false);
    expect(isId(`${id.slice(0, -1)}u`, 'delivery')).toBe(false);
    expect(isId('dlv_zzzzzzzzzzzzzzzzzzzzzzzzzz', 'delivery')).toBe(false);
  });

  it('encodes the millisecond time in its first ten characters', () => {
    const decode = (text: string) =>
      [...text].reduce((n, c) => n * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0);
    expect(decode(ulid(3_000_000_000_000).slice(0, 10))).toBe(3_000_000_000_000);
    const earlier = ulid(3_000_000_000_100);
    expect(ulid(3_000_000_000_101) > earlier).toBe(true);
  });

  it('stays increasing when the clock steps backwards', () => {
    const later = ulid(4_000_000_000_000);
    expect(ulid(1_000) > later).toBe(true);
  });

  it('stays strictly increasing within one millisecond', () => {
    const ids = Array.from({ length: 10_000 }, () => ulid(5_000_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
