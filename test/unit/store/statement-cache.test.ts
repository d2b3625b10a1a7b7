import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cacheStatements } from '../../../src/store/sqlite/statement-cache.js';

describe('cacheStatements', () => {
  it('returns the same compiled statement for the same SQL, and still runs it correctly', () => {
    const db = new Database(':memory:');
    cacheStatements(db);
    db.exec('CREATE TABLE t (n INTEGER)');
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    expect(db.prepare('INSERT INTO t (n) VALUES (?)')).toBe(insert);
    for (let i = 0; i < 3; i++) db.prepare('INSERT INTO t (n) VALUES (?)').run(i);
    expect(db.prepare<[], { c: number }>('SELECT COUNT(*) AS c FROM t').get()?.c).toBe(3);
    db.close();
  });

  it('evicts the least recently used statement beyond its bound', () => {
    const db = new Database(':memory:');
    cacheStatements(db, 2);
    const a = db.prepare('SELECT 1');
    const b = db.prepare('SELECT 2');
    expect(db.prepare('SELECT 1')).toBe(a); // now the most recent
    db.prepare('SELECT 3'); // evicts SELECT 2
    expect(db.prepare('SELECT 1')).toBe(a);
    expect(db.prepare('SELECT 2')).not.toBe(b);
    db.close();
  });

  it('survives a schema change under a cached statement', () => {
    const db = new Database(':memory:');
    cacheStatements(db);
    db.exec('CREATE TABLE t (n INTEGER)');
    db.prepare('INSERT INTO t (n) VALUES (?)').run(1);
    db.exec('ALTER TABLE t ADD COLUMN m INTEGER');
    db.prepare('INSERT INTO t (n) VALUES (?)').run(2);
    expect(db.prepare<[], { c: number }>('SELECT COUNT(*) AS c FROM t').get()?.c).toBe(2);
    db.close();
  });
});
