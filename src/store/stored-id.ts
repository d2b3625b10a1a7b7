import { ALPHABET, type ID_PREFIXES } from '../ids.js';

/**
 * SQLite keeps event and inbox ids as their ULID's 16 bytes (migration 016) instead of the 30- and
 * 29-character strings: in the rows, their primary keys, `inbox_source`, and the `inbox_id` and
 * `raw_event` links between the two tables, about 130 bytes less per stored request. The prefix is
 * the column's: `events.id` and `inbox.raw_event` hold event ids, `inbox.id` and `events.inbox_id`
 * inbox ids. The bytes sort as the strings do (the ULID's time first), so ordering by id and the time
 * bounds of retention keep their meaning.
 *
 * Only an id that is exactly a prefix and a ULID whose 130 bits fit in 128 (as every id mailhook makes
 * does) is stored as bytes; any other string is stored as it is, and SQLite never finds a BLOB equal
 * to a TEXT value, so the two forms cannot be mistaken for one another. Other tables, and PostgreSQL,
 * keep the strings; reading turns the bytes back (`idText`), so nothing above the stores sees them.
 */

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (char) => char.charCodeAt(0));
/** Each character code's 5-bit value, 255 for a character outside the alphabet. */
const VALUE = new Uint8Array(128).fill(255);
for (const [i, code] of ALPHABET_CODES.entries()) VALUE[code] = i;
const ULID_LENGTH = 26;

export type StoredIdPrefix = (typeof ID_PREFIXES)['event' | 'inbox'];

/** `id` as SQLite stores it in a column of `prefix` ids: 16 bytes when it is a canonical id, else itself. */
export function idBytes(id: string, prefix: StoredIdPrefix): Buffer | string;
export function idBytes(id: string | null, prefix: StoredIdPrefix): Buffer | string | null;
export function idBytes(id: string | null, prefix: StoredIdPrefix): Buffer | string | null {
  if (id === null) return null;
  const start = prefix.length + 1;
  if (id.length !== start + ULID_LENGTH || !id.startsWith(prefix) || id.charCodeAt(prefix.length) !== 95)
    return id;
  // 26 characters × 5 bits = 130 bits; the first character must leave its top two bits clear.
  let buffer = 0;
  let bits = -2;
  let out = 0;
  const bytes = Buffer.allocUnsafe(16);
  for (let i = start; i < id.length; i++) {
    const code = id.charCodeAt(i);
    const value = code < 128 ? (VALUE[code] as number) : 255;
    if (value === 255 || (i === start && value > 7)) return id;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  return bytes;
}

const PREFIX_CODES = { evt: [101, 118, 116, 95], in: [105, 110, 95] } as const;
const text = Buffer.alloc(4 + ULID_LENGTH);

/** The id a column of `prefix` ids holds: the bytes idBytes made turned back, or the string as stored. */
export function idText(value: string | Uint8Array, prefix: StoredIdPrefix): string;
export function idText(value: string | Uint8Array | null, prefix: StoredIdPrefix): string | null;
export function idText(value: string | Uint8Array | null, prefix: StoredIdPrefix): string | null {
  if (value === null || typeof value === 'string') return value;
  // Only idBytes writes bytes to these columns; anything else would be a broken row, shown, not misread.
  if (value.length !== 16) return `${prefix}_${Buffer.from(value).toString('hex')}`;
  const head = PREFIX_CODES[prefix];
  text.set(head);
  let at = head.length;
  // The first character takes the top 3 bits (of 128), then 5 bits at a time.
  let buffer = 0;
  let bits = 2;
  for (const byte of value) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text[at++] = ALPHABET_CODES[(buffer >> bits) & 31] as number;
    }
  }
  return text.toString('latin1', 0, at);
}

/**
 * A bound between the stored ids made before `time` (ms) and those made at or after it: the ULID's
 * time alone, in its 6 bytes. Bytes compare byte by byte, and a value that is a prefix of a longer one
 * sorts first, so `id < idTimeBound(t)` holds exactly for the ids made before `t`.
 */
export function idTimeBound(time: number): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUIntBE(Math.max(0, Math.floor(time)), 0, 6);
  return bytes;
}

/** The time (ms) in a stored id's first 6 bytes. */
export function idBytesTime(value: Uint8Array): number {
  return Buffer.from(value.buffer, value.byteOffset, 6).readUIntBE(0, 6);
}
