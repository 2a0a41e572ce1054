ALTER TABLE provider_state
    DROP CONSTRAINT provider_state_failover_until,
    DROP COLUMN failovers,
    DROP COLUMN breaker_changed_at,
    DROP COLUMN probe_until,
    DROP COLUMN breaker_until,
    DROP COLUMN breaker_failures,
    DROP COLUMN breaker;
