-- OpenTelemetry (src/tracing/, docs/tracing.md): the W3C traceparent of the span of the ingest request
-- that stored the row, copied to the deliveries of the row's events, so the pipeline's batch span links
-- to it and each delivery attempt joins its trace on whichever thread, node or restart sends it. NULL
-- when tracing is off, and for deliveries of published, reconciled and replayed events.
-- A nullable column without a default is only added to the catalog: no table rewrite, no long lock.
ALTER TABLE inbox ADD COLUMN trace TEXT;
ALTER TABLE deliveries ADD COLUMN trace TEXT;
