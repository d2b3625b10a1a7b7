/**
 * The xmax of a pg_snapshot in its text form (`xmin:xmax:xip,…`, as pg_current_snapshot()::text
 * gives it): every transaction the snapshot sees as committed has a lower id.
 */
export function snapshotXmax(snapshot: string): bigint {
  const match = /^\d+:(\d+):[\d,]*$/.exec(snapshot);
  if (!match?.[1]) throw new Error(`not a pg_snapshot: ${snapshot.slice(0, 100)}`);
  return BigInt(match[1]);
}
