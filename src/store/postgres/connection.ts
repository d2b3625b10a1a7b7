import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;
export type Tx = postgres.TransactionSql<Record<string, never>>;
/** Anything that runs a query: the pool or a transaction. */
export type Queryable = Sql | Tx;

/** Type OIDs for `sql.array(values, oid)`: columns sent as arrays keep one prepared statement. */
export const TEXT = 25;
export const INT4 = 23;
export const INT8 = 20;

/**
 * Array parameters for an `unnest(...)` statement, one element per row: the statement keeps one shape
 * (and one prepared statement) whatever the batch's size. BIGINT milliseconds go as text, the form
 * the connection's bigint serializer gives them.
 */
export function arrayColumns<R>(sql: Queryable, rows: readonly R[]) {
  const array = (values: unknown[], type: number) => sql.array(values as never[], type);
  return {
    text: (pick: (row: R) => string | null) => array(rows.map(pick), TEXT),
    int: (pick: (row: R) => number | null) => array(rows.map(pick), INT4),
    ms: (pick: (row: R) => number | null) =>
      array(
        rows.map((row) => {
          const value = pick(row);
          return value === null ? null : String(value);
        }),
        INT8,
      ),
  };
}

export interface PostgresOptions {
  url: string;
  /** Schema the tables live in (tests give each its own); created when missing. */
  schema?: string;
  /** Connections in the pool. */
  max?: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A postgres.js pool. BIGINT (our Unix-millisecond times) is read as a JS number: every value we
 * store is far below 2^53. Notices are not logged (the core never logs from here).
 */
export function connect(options: PostgresOptions): Sql {
  const schema = options.schema ?? 'public';
  if (!IDENTIFIER.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  return postgres(options.url, {
    max: options.max ?? 10,
    // After a database restart, reconnect within a second or two instead of postgres.js's default
    // backoff of up to 20 s, so ingest answers 503 briefly and then recovers by itself.
    connect_timeout: 5,
    backoff: (attempt: number) => Math.min(2, 0.1 * 2 ** attempt),
    onnotice: () => {},
    connection: { search_path: schema, application_name: 'mailhook' },
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  }) as unknown as Sql;
}

/**
 * The wire protocol counts a statement's parameters in 16 bits, and postgres.js refuses 65,534 or
 * more. A pipeline batch can hold far more values than that (1,000 SendGrid posts of 1,000 events,
 * or 70 events fanned out to 100 endpoints), so multi-row statements are split into chunks.
 */
const MAX_PARAMETERS = 65_533;

/** Splits `rows` (objects or tuples, all of one shape) so that no chunk binds more than MAX_PARAMETERS values. */
export function parameterChunks<T extends object>(rows: readonly T[]): T[][] {
  const columns = rows[0] ? Object.keys(rows[0]).length : 1;
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns)));
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}
