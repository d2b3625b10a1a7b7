import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { PostgresStore } from '../../src/store/index.js';
import { noteMissingCapability } from './ci.js';

/** The test database; PostgreSQL runs on every machine, CI included. */
export const TEST_DATABASE_URL =
  process.env.MAILHOOK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A unique schema name per test, so tests never share state. */
export function testSchema(): string {
  return `mh_test_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** True when the test server answers. In CI a missing server fails the run instead of skipping. */
export async function postgresAvailable(): Promise<boolean> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI: ${String(err)}`);
    noteMissingCapability('the PostgreSQL tests', `no server at ${TEST_DATABASE_URL} (${String(err)})`);
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export function postgresStore(schema: string): PostgresStore {
  return new PostgresStore({ url: TEST_DATABASE_URL, schema, max: 4 });
}
