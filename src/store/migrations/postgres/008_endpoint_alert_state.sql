-- Endpoint health alerts with hysteresis (src/delivery/health-alerts.ts): the alert an endpoint last
-- raised, when, and its run of successes since the last failure, decided in the transaction that
-- records an attempt. Endpoints in a failure streak are left undecided (NULL): their next attempt
-- derives the state from MAILHOOK_FAILING_AFTER, as the rule before this migration did, so an
-- endpoint that already raised `failing` does not raise it again.
ALTER TABLE endpoints ADD COLUMN alert_state TEXT DEFAULT 'ok' CHECK (alert_state IN ('ok', 'failing'));
ALTER TABLE endpoints ADD COLUMN alert_changed_at BIGINT;
ALTER TABLE endpoints ADD COLUMN success_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN success_streak_started_at BIGINT;

UPDATE endpoints SET alert_state = NULL WHERE consecutive_failures > 0;
