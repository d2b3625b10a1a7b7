/**
 * Whether a failed transaction was refused because of the data it carried — the same rows would fail
 * again whatever the store's state — rather than because the store could not work right now (disk
 * full, I/O error, lock, lost connection, server restarting). Only the first kind may quarantine a
 * row (see pipeline/failure-isolation.ts): an outage that happens to strike after the rows were
 * claimed must never turn acknowledged events into quarantined ones. Unknown errors count as outages.
 */
export function isDataRefusal(err: unknown): boolean {
  if (err instanceof RangeError) return true; // our own code on this data: a stack overflow, an invalid date
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // PostgreSQL SQLSTATE classes: 22 data exception (a NUL, a value out of range), 23 integrity
  // constraint violation, 54 program limit exceeded (an index entry over 2,704 bytes).
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code)) return true;
  // SQLite: a value too big, a constraint, a datatype mismatch. Never SQLITE_FULL, _IOERR, _BUSY,
  // _LOCKED, _READONLY, _CANTOPEN, _NOMEM, _PERM: those are the disk or the process.
  return code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code.startsWith('SQLITE_CONSTRAINT');
}

/**
 * Whether a failure is the store being unable to work right now (the other side of isDataRefusal):
 * such an API call is answered 503, retry later, rather than 500, a bug.
 */
export function isStoreOutage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // PostgreSQL: connection exceptions (08), insufficient resources (53), operator intervention (57P).
  if (/^(08|53)[0-9A-Z]{3}$/.test(code) || /^57P0[1-4]$/.test(code)) return true;
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CONNECTION_[A-Z_]+|CONNECT_TIMEOUT)$/.test(code))
    return true;
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM)/.test(code);
}
