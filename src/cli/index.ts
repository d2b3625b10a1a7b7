import { ConfigError } from '../config.js';
import { MailhookError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CliCommand } from './command.js';
import { MANAGEMENT_COMMANDS } from './commands/index.js';
import { UsageError, usage } from './usage.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, config: 78 } as const;

/**
 * Loaded on use: `serve` alone imports the HTTP server, the stores and every adapter (~0.5 s), which
 * every management command used to pay at start.
 */
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  reprocess: async () => (await import('./reprocess.js')).reprocessCommand,
  listen: async () => (await import('./listen.js')).listenCommand,
  simulate: async () => (await import('./simulate.js')).simulateCommand,
  backup: async () => (await import('./backup.js')).backupCommand,
  restore: async () => (await import('./restore.js')).restoreCommand,
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
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`mailhook: unknown command "${command}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const run = await load();
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
