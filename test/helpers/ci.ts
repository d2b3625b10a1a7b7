import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file where skipped capabilities are listed for the end-of-run notice (test/helpers/temp-root.ts). */
export function missingCapabilitiesFile(runDir: string): string {
  return join(runDir, 'missing-capabilities.txt');
}

/**
 * Records that tests were skipped for want of something this machine lacks, so the run ends with a
 * visible notice instead of a quiet "skipped" count. Also printed at once, for a single-file run.
 */
export function noteMissingCapability(what: string, unavailable: string): void {
  const line = `${what}: ${unavailable}`;
  console.warn(`skipped ${line}`);
  const runDir = process.env.MAILHOOK_TEST_RUN_DIR;
  if (runDir) appendFileSync(missingCapabilitiesFile(runDir), `${line}\n`);
}

/**
 * For tests that need something a developer's machine may lack (root, tmpfs, chattr, PostgreSQL,
 * Chromium): they may skip locally, with a notice at the end of the run, but in CI (CI=true), where
 * the machine has it all, a missing capability fails the run instead of silently dropping the test.
 */
export function skipOutsideCi(what: string, unavailable: string | null): boolean {
  if (unavailable !== null && process.env.CI === 'true') {
    throw new Error(`${what} must run in CI, but: ${unavailable}`);
  }
  if (unavailable !== null) noteMissingCapability(what, unavailable);
  return unavailable !== null;
}
