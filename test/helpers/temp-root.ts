import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingCapabilitiesFile } from './ci.js';

/**
 * Vitest global setup. Every test file, and every server or CLI process a test starts, inherits a
 * TMPDIR inside one directory made for this run, which is removed when the run ends: tests that
 * forget to clean up, and processes the crash tests kill on purpose, leave nothing in /tmp
 * (`MAILHOOK_TEST_KEEP_TMP=1` keeps it for a look after a failure). The run ends with a notice
 * naming every group of tests skipped for a capability this machine lacks.
 */
export default function setup(): () => void {
  // Each vitest project runs its global setup; the first one makes the directory for the whole run.
  if (process.env.MAILHOOK_TEST_RUN_DIR) return () => {};
  const outer = tmpdir();
  const root = mkdtempSync(join(outer, 'mailhook-tests-'));
  // The private PostgreSQL servers run as the `postgres` user when the tests run as root: it must be
  // able to reach its data directory inside this one.
  chmodSync(root, 0o755);
  process.env.MAILHOOK_TEST_OUTER_TMPDIR = outer;
  process.env.MAILHOOK_TEST_RUN_DIR = root;
  process.env.TMPDIR = root;
  return () => {
    process.env.TMPDIR = outer;
    delete process.env.MAILHOOK_TEST_RUN_DIR;
    printMissingCapabilities(root);
    if (process.env.MAILHOOK_TEST_KEEP_TMP === '1') {
      console.log(`test files kept in ${root}`);
      return;
    }
    try {
      rmSync(root, { recursive: true, force: true });
    } catch (err) {
      // A file system a test mounted and did not unmount: say so rather than fail a green run.
      console.warn(`could not remove ${root}: ${String(err)}`);
    }
  };
}

function printMissingCapabilities(root: string): void {
  const file = missingCapabilitiesFile(root);
  if (!existsSync(file)) return;
  const lines = [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))];
  const rule = '-'.repeat(72);
  console.warn(
    [
      rule,
      `NOTICE: ${lines.length} group(s) of tests were SKIPPED because this machine lacks something`,
      '(in CI, CI=true, each of these fails the run instead, except what the CI machine cannot have: a container runtime):',
      ...lines.map((line) => `  - ${line}`),
      rule,
    ].join('\n'),
  );
}
