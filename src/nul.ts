/**
 * U+0000 is valid in JSON and in a JS string, but PostgreSQL's TEXT refuses it (`invalid byte
 * sequence for encoding "UTF8": 0x00`), so one such character in a provider's payload would fail the
 * pipeline's whole transaction, again on every retry. Provider data is therefore stored with each NUL
 * replaced by U+FFFD, the replacement character PostgreSQL itself uses for a lone surrogate, on both
 * stores alike; the API refuses it outright (see containsNul).
 */
const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';

/** `value` with every NUL in its strings and keys replaced; the same object when it has none. */
export function withoutNul<T>(value: T): T {
  return scrub(value) as T;
}

function scrub(value: unknown): unknown {
  if (typeof value === 'string') return value.includes(NUL) ? value.replaceAll(NUL, REPLACEMENT) : value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item = scrub(value[i]);
      if (item !== value[i]) {
        copy ??= value.slice();
        copy[i] = item;
      }
    }
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object') {
    let copy: Record<string, unknown> | null = null;
    for (const [key, item] of Object.entries(value)) {
      const cleanKey = scrub(key) as string;
      const cleanItem = scrub(item);
      if (cleanKey !== key || cleanItem !== item) {
        copy ??= { ...value };
        if (cleanKey !== key) delete copy[key];
        copy[cleanKey] = cleanItem;
      }
    }
    return copy ?? value;
  }
  return value;
}

/** Whether any string or key in `value` holds a NUL. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(NUL);
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => key.includes(NUL) || containsNul(item));
  }
  return false;
}
