-- The primary provider's circuit breaker (issue #22 item 3), shared by every `serve` and `worker`
-- process: kept on the primary's `provider_state` row (its limit key), read and changed under
-- that row's lock in the same short transaction that reserves the call (never across a call).
-- `breaker_failures`: the counted failures (provider_error, rate_limit, timeout) still in the
-- window, fewer than the threshold; `breaker_until`: the end of a failover's cooldown, or when
-- a degraded breaker's last failure leaves the window (so /metrics, which knows no breaker
-- settings, reads the phase as it stands: failover past its cooldown is recovery, degraded past
-- its window is healthy);
-- `probe_until`: the lease of the recovery's one probe (a crashed probe frees it when it runs
-- out). The transitions are syllabus_domain::breaker's.
ALTER TABLE provider_state
    ADD COLUMN breaker text NOT NULL DEFAULT 'healthy'
        CHECK (breaker IN ('healthy', 'degraded', 'failover', 'recovery')),
    ADD COLUMN breaker_failures timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN breaker_until timestamptz,
    ADD COLUMN probe_until timestamptz,
    ADD COLUMN breaker_changed_at timestamptz,
    ADD COLUMN failovers bigint NOT NULL DEFAULT 0 CHECK (failovers >= 0),
    ADD CONSTRAINT provider_state_failover_until
        CHECK (breaker NOT IN ('failover', 'degraded') OR breaker_until IS NOT NULL);
