import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { serveUntilSignalled } from '../main.js';
import { usage } from './usage.js';

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(
      `mailhook serve — run the gateway; configured by environment variables only.\n\n${usage()}`,
    );
    return 0;
  }
  try {
    await serveUntilSignalled(loadConfig());
  } catch (err) {
    // Reported by the caller with its exit code; a handle a failed start left open must not keep the
    // process running after that (a server that cannot listen used to hang until SIGTERM).
    setTimeout(() => process.exit(), 2000).unref();
    throw err;
  }
  // Keep running: the signal handlers exit the process.
  return new Promise<number>(() => {});
}
