import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Migrations are numbered `.sql` files per dialect, append-only. They live in the source tree (not
 * compiled), found from the package root whether this module runs from src/, dist/ or another build.
 */
function migrationsRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'src', 'store', 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('mailhook: cannot find src/store/migrations above this module');
    dir = parent;
  }
}

const MIGRATIONS_ROOT = migrationsRoot();

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
