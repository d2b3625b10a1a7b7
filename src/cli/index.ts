import { ConfigError } from '../config.js';
import { MailhookError } from '../errors.js';
import { VERSION } from '../version.js';
import { MANAGEMENT_COMMANDS } from './commands/index.js';
import { listenCommand } from './listen.js';
import { migrateCommand } from './migrate.js';
import { reprocessCommand } from './reprocess.js';
import { serveCommand } from './serve.js';
import { simulateCommand } from './simulate.js';
import { UsageError, usage } from './usage.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, config: 78 } as const;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  migrate: migrateCommand,
  reprocess: reprocessCommand,
  listen: listenCommand,
  simulate: simulateCommand,
  ...MANAGEMENT_COMMANDS,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage());
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`mailhook: unknown command "${command}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mailhook: invalid configuration: ${err.message}\n`);
      return EXIT.config;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`mailhook ${command}: ${err.message}\n`);
      return EXIT.usage;
    }
    const message = err instanceof MailhookError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`mailhook ${command}: ${message}\n`);
    return EXIT.failure;
  }
}
