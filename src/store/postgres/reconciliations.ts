import type { CreateReconcileResult, ReconcileJob, ReconcileProgress } from '../reconcile-types.js';
import { JOB_COLUMNS, type JobRow, jobOf } from '../sqlite/reconciliations.js';
import type { Sql } from './connection.js';

// The same jobs as on SQLite (src/store/sqlite/reconciliations.ts); several nodes claim them with
// SKIP LOCKED under a lease, and the partial unique index keeps one running job per source.

export async function createJob(sql: Sql, job: ReconcileJob): Promise<CreateReconcileResult> {
  const inserted = await sql.unsafe<{ id: string }[]>(
    `INSERT INTO reconciliations (id, source_id, trigger, status, since, until, created_at, updated_at)
     VALUES ($1, $2, $3, 'running', $4, $5, $6, $7)
     ON CONFLICT (source_id) WHERE status = 'running' DO NOTHING RETURNING id`,
    [
      job.id,
      job.sourceId,
      job.trigger,
      job.since.getTime(),
      job.until.getTime(),
      job.createdAt.getTime(),
      job.updatedAt.getTime(),
    ],
  );
  if (inserted.length === 1) return { created: true, job };
  const [running] = await sql.unsafe<JobRow[]>(
    `SELECT ${JOB_COLUMNS} FROM reconciliations WHERE source_id = $1 AND status = 'running'`,
    [job.sourceId],
  );
  // It finished between the two statements: try again.
  return running ? { created: false, running: jobOf(running) } : createJob(sql, job);
}

export async function getJob(sql: Sql, id: string): Promise<ReconcileJob | null> {
  const [row] = await sql.unsafe<JobRow[]>(`SELECT ${JOB_COLUMNS} FROM reconciliations WHERE id = $1`, [id]);
  return row ? jobOf(row) : null;
}

export async function listJobs(sql: Sql, sourceId: string, limit: number): Promise<ReconcileJob[]> {
  const rows = await sql.unsafe<JobRow[]>(
    `SELECT ${JOB_COLUMNS} FROM reconciliations WHERE source_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    [sourceId, limit],
  );
  return rows.map(jobOf);
}

export async function claimJob(
  sql: Sql,
  owner: string,
  now: Date,
  leaseMs: number,
): Promise<ReconcileJob | null> {
  const [row] = await sql.unsafe<JobRow[]>(
    `UPDATE reconciliations SET lease_owner = $1, lease_expires_at = $2
     WHERE id = (SELECT id FROM reconciliations
                 WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING ${JOB_COLUMNS}`,
    [owner, now.getTime() + leaseMs, now.getTime()],
  );
  return row ? jobOf(row) : null;
}

export async function saveProgress(
  sql: Sql,
  id: string,
  owner: string,
  progress: ReconcileProgress,
  now: Date,
  leaseMs: number,
): Promise<boolean> {
  const result = await sql.unsafe(
    `UPDATE reconciliations SET cursor = $1, pages = $2, found = $3, new = $4, duplicates = $5, skipped = $6,
       updated_at = $7, lease_expires_at = $8
     WHERE id = $9 AND lease_owner = $10 AND status = 'running'`,
    [
      progress.cursor,
      progress.pages,
      progress.found,
      progress.new,
      progress.duplicates,
      progress.skipped,
      now.getTime(),
      now.getTime() + leaseMs,
      id,
      owner,
    ],
  );
  return result.count === 1;
}

export async function finishJob(
  sql: Sql,
  id: string,
  owner: string,
  outcome: { status: 'done' | 'failed'; error: string | null },
  now: Date,
): Promise<boolean> {
  const result = await sql.unsafe(
    `UPDATE reconciliations SET status = $1, error = $2, finished_at = $3, updated_at = $3,
       lease_owner = NULL, lease_expires_at = NULL
     WHERE id = $4 AND lease_owner = $5 AND status = 'running'`,
    [outcome.status, outcome.error, now.getTime(), id, owner],
  );
  return result.count === 1;
}

export async function heartbeat(sql: Sql, now: Date): Promise<Date | null> {
  const [row] = await sql.unsafe<{ before: string | null }[]>(
    `WITH old AS (SELECT seen_at FROM node_heartbeat WHERE id = 1)
     INSERT INTO node_heartbeat (id, seen_at) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET seen_at = GREATEST(node_heartbeat.seen_at, excluded.seen_at)
     RETURNING (SELECT seen_at FROM old)::text AS before`,
    [now.getTime()],
  );
  return row?.before == null ? null : new Date(Number(row.before));
}
