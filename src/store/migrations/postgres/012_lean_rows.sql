-- An event's body without the fields its row already holds in columns (src/store/event-body.ts):
-- body_format 1 holds the data without provider, source_id, message_id and recipient, and reading
-- puts them back with id, type and timestamp from the columns; about 250 bytes less per event.
-- Rows stored before this migration keep the whole event (0) and are read as they are, so nothing
-- is rewritten.
ALTER TABLE events ADD COLUMN body_format SMALLINT NOT NULL DEFAULT 0;

-- A request whose one event holds it byte for byte as data.raw (src/store/inbox-raw.ts) is not kept
-- twice: its inbox row names that event here and keeps an empty body, and reading the row takes the
-- body from the event. Retention keeps such an event as long as the row.
ALTER TABLE inbox ADD COLUMN raw_event TEXT;
