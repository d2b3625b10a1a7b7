import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../config.js';
import { findUnknownVariables, unknownVariableMessage } from '../config-typos.js';
import { UsageError } from './usage.js';

/** `backup <file>` and `restore <file>`: their shared options, or null when --help was printed. */
export interface StoreFileArgs {
  file: string;
  force: boolean;
  json: boolean;
  config: Config;
}

export function storeFileArgs(args: string[], help: string): StoreFileArgs | null {
  const { values, positionals } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(help);
    return null;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError('expected one argument: the backup file');
  const config = loadConfig();
  for (const unknown of findUnknownVariables(process.env))
    process.stderr.write(`${unknownVariableMessage(unknown)}\n`);
  return { file, force: values.force === true, json: values.json === true, config };
}
