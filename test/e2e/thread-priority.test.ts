import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  removeNodeDirs,
  startPgNode,
  type TestDatabase,
} from '../helpers/pg-database.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { killAll, removeDir, startServer, tempDataDir, waitFor } from '../helpers/process.js';

/**
 * Background threads that no acknowledgement waits on run at a lower CPU priority than the event
 * loop answering providers (src/background-priority.ts). Read from /proc: each thread's niceness.
 */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces: state is field 3, nice field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[16]);
  });
}

const dirs: string[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  await killAll();
  for (const dir of dirs.splice(0)) removeDir(dir);
});
afterAll(async () => {
  for (const db of databases.splice(0)) await db.drop();
  removeNodeDirs();
});

describe.skipIf(process.platform !== 'linux')('thread priority', () => {
  it('with SQLite every thread keeps normal priority: the pipeline thread commits ingest', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const server = await startServer({ dataDir });
    const niceness = threadNiceness(server.pid);
    expect(niceness.every((n) => n === 0)).toBe(true);
  });

  it('with PostgreSQL the pipeline and delivery threads run at nice 10, the rest at 0', async () => {
    if (!(await postgresAvailable())) {
      if (process.env.CI) throw new Error('PostgreSQL must be reachable in CI');
      return;
    }
    const db = await createTestDatabase('mh_prio');
    databases.push(db);
    const node = await startPgNode({ databaseUrl: db.url });
    await node.ready;
    // The threads lower their priority as they start, which may finish just after /readyz answers.
    const niceness = await waitFor('two threads at nice 10', async () => {
      const now = threadNiceness(node.pid);
      return now.filter((n) => n === 10).length >= 2 ? now : undefined;
    });
    expect(niceness.filter((n) => n === 10)).toHaveLength(2);
    expect(niceness.filter((n) => n !== 10).every((n) => n === 0)).toBe(true);
  });
});
