import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, removeDir, startServer, tempDataDir, waitFor } from '../helpers/process.js';

let dataDir: string;

beforeAll(() => {
  dataDir = tempDataDir();
});

afterEach(async () => {
  await killAll();
});

afterAll(() => {
  removeDir(dataDir);
});

function warnings(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => String(entry.msg).startsWith('unknown setting'));
}

describe('mailhook serve with a misspelt variable', () => {
  it('starts, and warns once per unknown variable with the closest known name', async () => {
    const server = await startServer({
      dataDir,
      env: {
        MAILHOOK_DELIVERY_TIMOUT: '30s',
        MAILHOOK_COLOUR_THEME: 'dark',
        // Set around every server the test suite starts: never a warning.
        MAILHOOK_TEST_RUN_DIR: dataDir,
      },
    });
    // Logged before the server listens; the pipe may deliver it to this process a moment after /readyz.
    const found = await waitFor('the two warnings in the log', async () => {
      const lines = warnings(server.stdout());
      return lines.length >= 2 ? lines : undefined;
    });
    expect(found).toMatchObject([
      {
        level: 40,
        variable: 'MAILHOOK_COLOUR_THEME',
        msg: 'unknown setting MAILHOOK_COLOUR_THEME (ignored); "mailhook --help" lists the settings',
      },
      {
        level: 40,
        variable: 'MAILHOOK_DELIVERY_TIMOUT',
        suggestion: 'MAILHOOK_DELIVERY_TIMEOUT',
        msg: 'unknown setting MAILHOOK_DELIVERY_TIMOUT (ignored); did you mean MAILHOOK_DELIVERY_TIMEOUT?',
      },
    ]);

    const exit = await server.stop();
    expect(exit.code, server.stderr()).toBe(0);
    expect(warnings(server.stdout())).toHaveLength(2);
  });
});
