import { VARIABLES } from './config.js';
import type { Logger } from './logger.js';

/**
 * A misspelt variable is otherwise ignored without a word: `MAILHOOK_RETENTION_EVENT=7d` would keep
 * every event for the default time. At start each `MAILHOOK_*` variable that nothing reads is named in
 * a warning, with the closest known name when one is close enough to be the intended one.
 *
 * Known names come from the configuration table (`VARIABLES` in src/config.ts), so a variable added
 * there is known here without a change, plus the few below that are read elsewhere.
 */

export const PREFIX = 'MAILHOOK_';

/** Variables read outside the configuration table, each with its reader. */
export const READ_ELSEWHERE = {
  MAILHOOK_URL: 'the server the management commands talk to (src/cli/http.ts)',
  MAILHOOK_FAULT_INJECTION:
    'a fault for the reliability tests (src/delivery/runtime.ts, src/pipeline/worker.ts)',
  // Not read by mailhook, but the README's receiver example reads it, so it often sits in the same
  // environment file as the server's variables.
  MAILHOOK_SECRET: "an endpoint's signing secret in the README's receiver example",
} as const;

/**
 * Families that belong to the test suite (MAILHOOK_TEST_RUN_DIR, MAILHOOK_TEST_DATABASE_URL, …) and
 * the benchmarks (MAILHOOK_BENCH_PROFILE, …): set around the servers they start, never read by them.
 */
export const FOREIGN_PREFIXES = ['MAILHOOK_TEST_', 'MAILHOOK_BENCH_'] as const;

export function knownVariables(): string[] {
  return [...Object.keys(VARIABLES), ...Object.keys(READ_ELSEWHERE)];
}

export interface UnknownVariable {
  name: string;
  /** The known variable it was most likely meant to be; null when none is close. */
  suggestion: string | null;
}

export interface TypoOptions {
  known?: readonly string[];
  /** Windows reads environment variables whatever their case, so `mailhook_log_level` is not a typo there. */
  caseSensitive?: boolean;
}

/** The `MAILHOOK_*` names in `env` that nothing reads, in name order, each with its suggestion. */
export function findUnknownVariables(
  env: Record<string, string | undefined>,
  { known = knownVariables(), caseSensitive = process.platform !== 'win32' }: TypoOptions = {},
): UnknownVariable[] {
  const fold = (name: string) => (caseSensitive ? name : name.toUpperCase());
  const knownSet = new Set(known.map(fold));
  return Object.keys(env)
    .filter((name) => {
      const key = fold(name);
      return (
        key.startsWith(PREFIX) &&
        !knownSet.has(key) &&
        !FOREIGN_PREFIXES.some((prefix) => key.startsWith(prefix))
      );
    })
    .sort()
    .map((name) => ({ name, suggestion: suggestVariable(name, known) }));
}

/**
 * The known name closest to `name`, or null when none is within a third of its own length (at least
 * one edit). Only the part after `MAILHOOK_` is compared: the shared prefix would otherwise make
 * every name look close to every other. Names without the prefix (`PORT`, `DATABASE_URL`) are
 * compared whole, so `MAILHOOK_PORT` suggests `PORT`.
 */
export function suggestVariable(name: string, known: readonly string[] = knownVariables()): string | null {
  const typed = name.toUpperCase().startsWith(PREFIX) ? name.slice(PREFIX.length).toUpperCase() : name;
  if (typed === '') return null;
  let best: { name: string; distance: number } | null = null;
  for (const candidate of known) {
    const target = candidate.startsWith(PREFIX) ? candidate.slice(PREFIX.length) : candidate;
    const distance = editDistance(typed, target);
    if (distance > Math.max(1, Math.floor(target.length / 3))) continue;
    if (best === null || distance < best.distance) best = { name: candidate, distance };
  }
  return best?.name ?? null;
}

/**
 * Damerau–Levenshtein distance in its optimal-string-alignment form: insertions, deletions,
 * substitutions and swaps of two neighbours (`RETRY_SHCEDULE`) each cost one.
 */
export function editDistance(a: string, b: string): number {
  // Three rows: the swap looks two rows back.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, before[j - 2]! + 1);
      }
      current.push(value);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

export function unknownVariableMessage({ name, suggestion }: UnknownVariable): string {
  return suggestion === null
    ? `unknown setting ${name} (ignored); "mailhook --help" lists the settings`
    : `unknown setting ${name} (ignored); did you mean ${suggestion}?`;
}

/** One warning per unknown variable. Names only: a value may be a secret. */
export function warnUnknownVariables(env: Record<string, string | undefined>, logger: Logger): void {
  for (const unknown of findUnknownVariables(env)) {
    logger.warn(
      { variable: unknown.name, ...(unknown.suggestion !== null && { suggestion: unknown.suggestion }) },
      unknownVariableMessage(unknown),
    );
  }
}
