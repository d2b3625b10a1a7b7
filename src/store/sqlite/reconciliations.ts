import type Database from 'better-sqlite3';
import type { CreateReconcileResult, ReconcileJob, ReconcileProgress } from '../reconcile-types.js';

interface JobRow {
  id: string;
  source_id: string;
  trigger: ReconcileJob['trigger'];
  status: ReconcileJob['status'];
  since: number;
  until: number;
  cursor: string | null;
  pages: number;
  found: number;
  new: number;
  duplicates: number;
  skipped: number;
  error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export function jobOf(row: JobRow): ReconcileJob {
  return {
    id: row.id,
    sourceId: row.source_id,
    trigger: row.trigger,
    status: row.status,
    since: new Date(Number(row.since)),
    until: new Date(Number(row.until)),
    cursor: row.cursor,
    pages: Number(row.pages),
    found: Number(row.found),
    new: Number(row.new),
    duplicates: Number(row.duplicates),
    skipped: Number(row.skipped),
    error: row.error,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
  };
}

export type { JobRow };

/** Both stores read a job with these columns (jobOf). */
export const JOB_COLUMNS =
  'id, source_id, trigger, status, since, until, cursor, pages, found, new, duplicates, skipped, error, created_at, updated_at, finished_at';

export function createJob(db: Database.Database, job: ReconcileJob): CreateReconcileResult {
  return db
    .transaction((): CreateReconcileResult => {
      const running = db
        .prepare<[string], JobRow>(
          `SELECT ${JOB_COLUMNS} FROM reconciliations WHERE source_id = ? AND status = 'running'`,
        )
        .get(job.sourceId);
      if (running) return { created: false, running: jobOf(running) };
      db.prepare(
        `INSERT INTO reconciliations (id, source_id, trigger, status, since, until, created_at, updated_at)
         VALUES (?, ?, ?, 'running', ?, ?, ?, ?)`,
      ).run(
        job.id,
        job.sourceId,
        job.trigger,
        job.since.getTime(),
        job.until.getTime(),
        job.createdAt.getTime(),
        job.updatedAt.getTime(),
      );
      return { created: true, job };
    })
    .immediate();
}

export function getJob(db: Database.Database, id: string): ReconcileJob | null {
  const row = db.prepare<[string], JobRow>(`SELECT ${JOB_COLUMNS} FROM reconciliations WHERE id = ?`).get(id);
  return row ? jobOf(row) : null;
}

export function listJobs(db: Database.Database, sourceId: string, limit: number): ReconcileJob[] {
  return db
    .prepare<[string, number], JobRow>(
      `SELECT ${JOB_COLUMNS} FROM reconciliations WHERE source_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .all(sourceId, limit)
    .map(jobOf);
}

/** The oldest running job whose lease is free or expired, now leased to `owner`. */
export function claimJob(
  db: Database.Database,
  owner: string,
  now: Date,
  leaseMs: number,
): ReconcileJob | null {
  return db
    .transaction(() => {
      const row = db
        .prepare<[number], JobRow>(
          `SELECT ${JOB_COLUMNS} FROM reconciliations
           WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
           ORDER BY created_at, id LIMIT 1`,
        )
        .get(now.getTime());
      if (!row) return null;
      db.prepare('UPDATE reconciliations SET lease_owner = ?, lease_expires_at = ? WHERE id = ?').run(
        owner,
        now.getTime() + leaseMs,
        row.id,
      );
      return jobOf(row);
    })
    .immediate();
}

/** Saves a page's progress and extends the lease; false when `owner` no longer holds the job. */
export function saveProgress(
  db: Database.Database,
  id: string,
  owner: string,
  progress: ReconcileProgress,
  now: Date,
  leaseMs: number,
): boolean {
  return (
    db
      .prepare(
        `UPDATE reconciliations SET cursor = ?, pages = ?, found = ?, new = ?, duplicates = ?, skipped = ?,
           updated_at = ?, lease_expires_at = ?
         WHERE id = ? AND lease_owner = ? AND status = 'running'`,
      )
      .run(
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
      ).changes === 1
  );
}

export function finishJob(
  db: Database.Database,
  id: string,
  owner: string,
  outcome: { status: 'done' | 'failed'; error: string | null },
  now: Date,
): boolean {
  return (
    db
      .prepare(
        `UPDATE reconciliations SET status = ?, error = ?, finished_at = ?, updated_at = ?,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ? AND lease_owner = ? AND status = 'running'`,
      )
      .run(outcome.status, outcome.error, now.getTime(), now.getTime(), id, owner).changes === 1
  );
}

/** Records that the installation is running; returns when it was last seen before (null: never). */
export function heartbeat(db: Database.Database, now: Date): Date | null {
  return db
    .transaction(() => {
      const row = db
        .prepare<[], { seen_at: number }>('SELECT seen_at FROM node_heartbeat WHERE id = 1')
        .get();
      db.prepare(
        'INSERT INTO node_heartbeat (id, seen_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)',
      ).run(now.getTime());
      return row ? new Date(Number(row.seen_at)) : null;
    })
    .immediate();
}
