import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/**
 * PostgreSQL for the benchmark: a fresh database per target run (CREATE DATABASE on the server's
 * maintenance database, DROP … WITH (FORCE) afterwards), so mailhook's pipeline and delivery threads,
 * which connect with DATABASE_URL alone, find an empty schema, and so does the status quo.
 */
export const BENCH_PG_URL =
  process.env.MAILHOOK_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

function urlOf(database: string): string {
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(urlOf('postgres'), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function postgresAvailable(): Promise<boolean> {
  try {
    await admin((sql) => sql`SELECT 1`);
    return true;
  } catch {
    return false;
  }
}

/** `CREATE DATABASE mh_bench_<prefix>_<random>`; the name is built here, never taken from input. */
export async function createBenchDatabase(prefix: string): Promise<BenchDatabase> {
  const name = `mh_bench_${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((sql) => sql.unsafe(`CREATE DATABASE ${name}`));
  return {
    url: urlOf(name),
    drop: () =>
      admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
