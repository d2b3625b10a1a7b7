/**
 * For tests that need something a developer's machine may lack (root, tmpfs, chattr, PostgreSQL
 * binaries): they may skip locally, but in CI (CI=true), where the machine has it all, a missing
 * capability fails the run instead of silently dropping the test.
 */
export function skipOutsideCi(what: string, unavailable: string | null): boolean {
  if (unavailable !== null && process.env.CI === 'true') {
    throw new Error(`${what} must run in CI, but: ${unavailable}`);
  }
  return unavailable !== null;
}
