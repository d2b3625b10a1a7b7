import { randomBytes } from 'node:crypto';

/**
 * Prefixed, time-sortable ids (`evt_01JD…`): a ULID body (48-bit millisecond time + 80 random bits,
 * Crockford base32) so ids sort by creation time and index well, and a prefix that says what they
 * identify. Ids made in the same millisecond by one process stay strictly increasing.
 */
export const ID_PREFIXES = {
  event: 'evt',
  source: 'src',
  endpoint: 'ep',
  delivery: 'dlv',
  attempt: 'att',
  inbox: 'in',
  apiKey: 'key',
  replay: 'rpl',
  reconciliation: 'rec',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

/** Crockford's base32, in which a ULID is written. */
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/** The 10-character time prefix of a ULID made at `time` (ms); ids sort by it. */
export function encodeTime(time: number): string {
  let out = '';
  let t = Math.max(0, Math.floor(time));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** The milliseconds in a ULID's 10-character time prefix. */
export function decodeTime(prefix: string): number {
  let t = 0;
  for (const char of prefix.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(char);
  return t;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters, most significant first.
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

function incrementRandom(bytes: Uint8Array): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const next = (bytes[i] ?? 0) + 1;
    bytes[i] = next & 0xff;
    if (next <= 0xff) return;
  }
}

export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    incrementRandom(lastRandom);
  } else {
    lastTime = now;
    lastRandom.set(randomBytes(10));
  }
  return encodeTime(lastTime) + encodeRandom(lastRandom);
}

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${ulid()}`;
}

/** Whether `id` is exactly an id of this kind: its prefix and a 26-character ULID. */
export function isId(id: string, kind: IdKind): boolean {
  return id.length === ID_PREFIXES[kind].length + 27 && hasPrefix(id, kind) && ULID.test(id.slice(-26));
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function hasPrefix(id: string, kind: IdKind): boolean {
  return id.startsWith(`${ID_PREFIXES[kind]}_`);
}
