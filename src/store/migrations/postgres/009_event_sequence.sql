-- Stored order: the live stream and GET /v1/events?after= follow events in the order they were
-- stored, whatever their provider timestamp. A sequence alone does not give that order on
-- PostgreSQL: a transaction that drew seq 10 may commit after one that drew seq 11, and a pipeline
-- batch holds its transaction id (from claiming inbox rows) before it draws any seq. So each row also
-- records the transaction that wrote it (`tx`), and readers follow (tx, seq) only below
-- pg_snapshot_xmin(pg_current_snapshot()): every transaction with a lower id has ended, so nothing can
-- ever be committed into that part of the order again, and a reader that moves through it never
-- skips an event (src/store/postgres/postgres-store.ts, eventsAfter). xid8 needs PostgreSQL 13.

-- Rows stored before this migration: tx 0 (below every transaction), and seq in their old listing
-- order. A constant default keeps the ADD COLUMN instant; new rows get the writer's transaction id
-- from the default set right after, so the statements that insert events need not name either column.
ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();

ALTER TABLE events ADD COLUMN seq BIGINT;
UPDATE events SET seq = ordered.n
  FROM (SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS n FROM events) AS ordered
  WHERE events.id = ordered.id;
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
ALTER TABLE events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('events', 'seq'), COALESCE(max(seq), 0) + 1, false) FROM events;

CREATE UNIQUE INDEX events_stored_order ON events (tx, seq);
