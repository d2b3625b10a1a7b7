import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { isDataRefusal, isStoreOutage } from '../../../src/store/data-refusal.js';
import { postgresAvailable, TEST_DATABASE_URL } from '../../helpers/postgres.js';

const pgUp = await postgresAvailable();

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('isDataRefusal', () => {
  it('counts what the data caused: PostgreSQL data exceptions, constraints, program limits; SQLite too-big, constraint, mismatch', () => {
    for (const code of [
      '22021',
      '22001',
      '22P02',
      '23505',
      '54000',
      'SQLITE_TOOBIG',
      'SQLITE_MISMATCH',
      'SQLITE_CONSTRAINT_CHECK',
    ]) {
      expect(isDataRefusal(withCode(code)), code).toBe(true);
    }
    expect(isDataRefusal(new RangeError('Maximum call stack size exceeded'))).toBe(true);
  });

  it('never counts the store being unable to work: disk, I/O, locks, connections, restarts, or anything unknown', () => {
    for (const code of [
      'SQLITE_FULL',
      'SQLITE_IOERR_WRITE',
      'SQLITE_BUSY',
      'SQLITE_LOCKED',
      'SQLITE_READONLY',
      'SQLITE_CANTOPEN',
      'SQLITE_NOMEM',
      '53100', // disk full
      '57P01', // admin shutdown
      '08006', // connection failure
      '40001', // serialization failure
      '40P01', // deadlock
      'ECONNREFUSED',
      'CONNECTION_CLOSED',
    ]) {
      expect(isDataRefusal(withCode(code)), code).toBe(false);
    }
    expect(isDataRefusal(new TypeError("Cannot read properties of null (reading 'write')"))).toBe(false);
    expect(isDataRefusal(new Error('no code'))).toBe(false);
    expect(isDataRefusal(null)).toBe(false);
  });

  it('recognises a real SQLite constraint error', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x TEXT NOT NULL)');
    let caught: unknown;
    try {
      db.prepare('INSERT INTO t VALUES (NULL)').run();
    } catch (err) {
      caught = err;
    }
    db.close();
    expect(isDataRefusal(caught)).toBe(true);
  });

  it.runIf(pgUp)('recognises PostgreSQL refusing a NUL in TEXT', async () => {
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      await expect(sql`SELECT ${'a\u0000b'}::text`).rejects.toSatisfy(isDataRefusal);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('isStoreOutage is the other side: disk, locks, connections, restarts, and never a data refusal', () => {
    for (const code of [
      'SQLITE_BUSY',
      'SQLITE_FULL',
      'SQLITE_IOERR_WRITE',
      'SQLITE_READONLY',
      '08006',
      '53100',
      '57P01',
      'ECONNREFUSED',
      'CONNECTION_CLOSED',
    ]) {
      expect(isStoreOutage(withCode(code)), code).toBe(true);
      expect(isDataRefusal(withCode(code)), code).toBe(false);
    }
    for (const code of ['22021', '23505', '54000', 'SQLITE_CONSTRAINT_UNIQUE', '42P01']) {
      expect(isStoreOutage(withCode(code)), code).toBe(false);
    }
    expect(isStoreOutage(new Error('no code'))).toBe(false);
  });
});
