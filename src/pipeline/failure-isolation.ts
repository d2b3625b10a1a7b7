/**
 * Finds the inbox row a store refuses. A batch is one transaction, so one row whose events the store
 * cannot take (a value PostgreSQL rejects, a constraint no plan foresaw) would fail every batch it is
 * in, forever, and hold back every row behind it. After a batch fails once its rows were claimed,
 * they are retried one per transaction; a row whose data the store refuses alone several times in a
 * row is the cause, and is quarantined (visible and reprocessable, never dropped). A batch that fails
 * before claiming anything, or with an error that is not about the data (store/data-refusal.ts), is
 * an outage, which only the runner's backoff answers.
 */
export class FailureIsolation {
  /** Rows of a failed batch still to be retried one at a time. */
  private remaining = 0;
  private suspect: { id: string; failures: number } | null = null;

  constructor(private readonly failuresBeforeQuarantine = 3) {}

  /** True while a failed batch is being retried row by row or a suspect row is being confirmed. */
  get active(): boolean {
    return this.remaining > 0 || this.suspect !== null;
  }

  /** How many rows the next transaction may claim. */
  limit(normal: number): number {
    return this.remaining > 0 ? 1 : normal;
  }

  succeeded(rows: number): void {
    this.suspect = null;
    this.remaining = rows === 0 ? 0 : Math.max(0, this.remaining - rows);
  }

  /**
   * Feeds back a failed transaction, the rows it had claimed and whether the store refused their data
   * (isDataRefusal) rather than failed by itself; returns a row to quarantine, if any.
   */
  failed(claimed: readonly string[], dataRefused: boolean): string | null {
    const [only] = claimed;
    // Nothing claimed, or an outage after the claim (a full disk at commit, a dropped connection):
    // the rows are not the cause, so neither isolate nor blame them.
    if (only === undefined || !dataRefused) return null;
    if (claimed.length > 1) {
      this.remaining = Math.max(this.remaining, claimed.length);
      this.suspect = null;
      return null;
    }
    const failures = this.suspect?.id === only ? this.suspect.failures + 1 : 1;
    if (failures < this.failuresBeforeQuarantine) {
      this.suspect = { id: only, failures };
      return null;
    }
    this.suspect = null;
    return only;
  }
}
