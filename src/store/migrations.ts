import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Migrations are numbered `.sql` files per dialect, append-only. They live in the source tree (not
 * compiled), found from the package root whether this module runs from src/ or dist/.
 */
const MIGRATIONS_ROOT = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'store',
  'migrations',
);

export function loadMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  const dir = join(MIGRATIONS_ROOT, dialect);
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(join(dir, file), 'utf8'),
    }));
}
