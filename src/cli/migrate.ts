import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { findUnknownVariables, unknownVariableMessage } from '../config-typos.js';
import { openStore } from '../store/index.js';

export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'mailhook migrate [--json] — apply pending migrations to the configured store and exit.\n' +
        'Uses MAILHOOK_DATA_DIR (SQLite) or DATABASE_URL. The server also migrates when it starts.\n',
    );
    return 0;
  }
  const config = loadConfig();
  for (const unknown of findUnknownVariables(process.env))
    process.stderr.write(`${unknownVariableMessage(unknown)}\n`);
  const store = openStore(config);
  try {
    const applied = await store.migrate();
    if (values.json) process.stdout.write(`${JSON.stringify({ dialect: store.dialect, applied })}\n`);
    else if (applied.length === 0) process.stdout.write(`${store.dialect}: schema is up to date\n`);
    else process.stdout.write(`${store.dialect}: applied migrations ${applied.join(', ')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
