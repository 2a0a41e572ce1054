//! [`LimiterStore`](crate::limits_port::LimiterStore) on [`Database`]: the shared provider limits
//! in `provider_state` (one row per provider, locked by each reservation) and the unlogged
//! `provider_reservations` (the sliding window). The arithmetic is the domain's
//! ([`ProviderLimits`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension as _, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::breaker::{BreakerSettings, Change, Route};
use syllabus_domain::provider_limits::{ProviderLimits, Reserved, WindowUse, pause_until};

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::{Admission, Endpoint, ProviderStats, RouteRequest, Routed, WaitCause};
use crate::sql::breaker;
use crate::sql::provider_stats::provider_stats;

/// Takes the provider's row (creating it), which serializes its reservations for the rest of the
/// transaction; reads the pause and the clock after the lock.
const LOCK_SQL: &str = "INSERT INTO provider_state AS s (provider) VALUES ($1)
    ON CONFLICT (provider) DO UPDATE SET provider = s.provider
    RETURNING s.paused_until, clock_timestamp() AS now";

/// Sets a reservation's tokens to the call's usage; returns its provider and the tokens the
/// correction freed (negative when the call used more than its estimate).
const CORRECT_SQL: &str = "WITH old AS (
        SELECT id, provider, tokens FROM provider_reservations WHERE id = $1 FOR UPDATE
     )
     UPDATE provider_reservations r SET tokens = $2 FROM old WHERE r.id = old.id
     RETURNING old.provider, old.tokens - $2 AS freed";

/// Makes the first job (in claim order) that waits for capacity of provider `$1` due now: the
/// tokens a correction freed are there at once, not when the estimate would have left the
/// window (read from `jobs_waiting_idx`). One per correction: a correction frees about one
/// estimate's worth, and a waiter that still does not fit waits again, until the exact time.
const WAKE_SQL: &str = "UPDATE jobs SET run_at = now() WHERE id = (
        SELECT id FROM jobs
        WHERE waits_for = $1 AND status = 'pending' AND run_at > now()
        ORDER BY priority DESC, greatest(run_at, fair_at), id
        LIMIT 1 FOR UPDATE SKIP LOCKED)";

#[derive(QueryableByName)]
struct Freed {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = BigInt)]
    freed: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    paused_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Used {
    #[diesel(sql_type = BigInt)]
    requests: i64,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = BigInt)]
    ahead: i64,
    #[diesel(sql_type = BigInt)]
    soon: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Counts the reservation's answer on the provider's row.
async fn count(
    conn: &mut AsyncPgConnection,
    provider: &str,
    granted: bool,
) -> Result<(), StoreError> {
    let column = if granted { "granted" } else { "refused" };
    diesel::sql_query(format!(
        "UPDATE provider_state SET {column} = {column} + 1 WHERE provider = $1"
    ))
    .bind::<Text, _>(provider)
    .execute(conn)
    .await?;
    Ok(())
}

/// The reservation's transaction, once the provider's row is held.
async fn reserve_locked(
    conn: &mut AsyncPgConnection,
    provider: &str,
    fair_at: Option<DateTime<Utc>>,
    limits: ProviderLimits,
    tokens: u64,
    locked: Locked,
) -> Result<Admission, StoreError> {
    let now = locked.now;
    if let Some(until) = locked.paused_until.filter(|u| *u > now) {
        return Ok(Admission::Wait {
            until,
            cause: WaitCause::Paused,
        });
    }
    if limits.is_unlimited() {
        return Ok(Admission::Granted { id: None });
    }
    let start = limits.window_start(now);
    // What left the window goes (the index's left end): the window is all that is kept.
    diesel::sql_query("DELETE FROM provider_reservations WHERE provider = $1 AND at <= $2")
        .bind::<Text, _>(provider)
        .bind::<Timestamptz, _>(start)
        .execute(conn)
        .await?;
    let used: Used = diesel::sql_query(
        "SELECT count(*) AS requests, coalesce(sum(tokens), 0)::bigint AS tokens
         FROM provider_reservations WHERE provider = $1",
    )
    .bind::<Text, _>(provider)
    .get_result(conn)
    .await?;
    let used = WindowUse {
        requests: unsigned(used.requests),
        tokens: unsigned(used.tokens),
    };
    if limits.admits(used, tokens) {
        let row: Id = diesel::sql_query(
            "INSERT INTO provider_reservations (provider, at, tokens) VALUES ($1, $2, $3)
             RETURNING id",
        )
        .bind::<Text, _>(provider)
        .bind::<Timestamptz, _>(now)
        .bind::<BigInt, _>(signed(limits.reserved_tokens(tokens)))
        .get_result(conn)
        .await?;
        return Ok(Admission::Granted { id: Some(row.id) });
    }
    // Refused: when enough of the oldest reservations leave (read only now, and only the
    // window's rows, about a window's calls).
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT at, tokens FROM provider_reservations WHERE provider = $1 ORDER BY at",
    )
    .bind::<Text, _>(provider)
    .load(conn)
    .await?;
    let window: Vec<Reserved> = rows
        .into_iter()
        .map(|r| Reserved {
            at: r.at,
            tokens: unsigned(r.tokens),
        })
        .collect();
    // In line behind the jobs already waiting for this provider that come before it in fair
    // order (a late user's first job is not put behind another's backlog; read from
    // `jobs_waiting_idx`),
    // at the pace of calls the size of the window's average; the head (nobody comes back by the
    // time the window has room) comes back then.
    let typical = window
        .iter()
        .map(|r| r.tokens)
        .sum::<u64>()
        .checked_div(u64::try_from(window.len()).unwrap_or(u64::MAX))
        .unwrap_or(tokens);
    let free_at = limits.free_at(now, &window, tokens);
    let head_by = chrono::Duration::from_std(limits.pace(typical))
        .ok()
        .and_then(|d| free_at.checked_add_signed(d))
        .unwrap_or(free_at);
    let line: Line = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE $3::timestamptz IS NULL OR fair_at < $3) AS ahead,
                count(*) FILTER (WHERE run_at <= $2) AS soon
         FROM jobs WHERE waits_for = $1 AND status = 'pending'",
    )
    .bind::<Text, _>(provider)
    .bind::<Timestamptz, _>(head_by)
    .bind::<Nullable<Timestamptz>, _>(fair_at)
    .get_result(conn)
    .await?;
    Ok(Admission::Wait {
        until: limits.in_line(now, free_at, unsigned(line.ahead), line.soon > 0, typical),
        cause: WaitCause::Window,
    })
}

/// A reservation on `endpoint`, whose row is held as `locked`, counted on that row.
async fn reserve_counted(
    conn: &mut AsyncPgConnection,
    endpoint: &Endpoint,
    fair_at: Option<DateTime<Utc>>,
    locked: Locked,
) -> Result<Admission, StoreError> {
    let admission = reserve_locked(
        conn,
        &endpoint.key,
        fair_at,
        endpoint.limits,
        endpoint.tokens,
        locked,
    )
    .await?;
    count(
        conn,
        &endpoint.key,
        matches!(admission, Admission::Granted { .. }),
    )
    .await?;
    Ok(admission)
}

/// The route's transaction (see [`LimiterStore::route`](crate::LimiterStore::route)): the
/// primary's row first, then the fallback's (always in that order: no deadlock).
async fn route_locked(
    conn: &mut AsyncPgConnection,
    request: &RouteRequest,
) -> Result<Routed, StoreError> {
    let held = breaker::lock(conn, &request.primary.key).await?;
    let settings = request.breaker;
    let settled = settings.settle(held.now, &held.state);
    let (mut route, claimed) = settings.route(held.now, &held.state, request.fallback.is_some());
    let mut to_store = settled.state.clone();
    let mut admission = None;
    if route.is_primary() {
        let locked = Locked {
            paused_until: held.paused_until,
            now: held.now,
        };
        let answer = reserve_counted(conn, &request.primary, request.fair_at, locked).await?;
        match (route, answer) {
            (Route::Probe, Admission::Granted { .. }) => {
                to_store = claimed.state;
                admission = Some(answer);
            }
            // No capacity at the primary for the probe: it stays unclaimed, the call uses
            // the fallback (or waits, without one).
            (Route::Probe, Admission::Wait { .. }) if request.fallback.is_some() => {
                route = Route::Fallback;
            }
            _ => admission = Some(answer),
        }
    }
    let admission = match (admission, &request.fallback) {
        (Some(answer), _) => answer,
        (None, Some(fallback)) => {
            let locked: Locked = diesel::sql_query(LOCK_SQL)
                .bind::<Text, _>(&fallback.key)
                .get_result(conn)
                .await?;
            reserve_counted(conn, fallback, request.fair_at, locked).await?
        }
        // Unreachable: the breaker routes to the fallback only when there is one.
        (None, None) => Admission::Granted { id: None },
    };
    if to_store != held.state {
        breaker::store(
            conn,
            &request.primary.key,
            &to_store,
            &settings,
            &settled.changes,
        )
        .await?;
    }
    Ok(Routed {
        route,
        admission,
        changes: settled.changes,
    })
}

impl crate::limits_port::LimiterStore for Database {
    async fn route(&self, request: RouteRequest) -> Result<Routed, StoreError> {
        self.as_system(move |conn| Box::pin(async move { route_locked(conn, &request).await }))
            .await
    }

    async fn breaker_outcome(
        &self,
        primary: &str,
        settings: BreakerSettings,
        failed: bool,
        probe: bool,
    ) -> Result<Vec<Change>, StoreError> {
        let primary = primary.to_owned();
        self.as_system(move |conn| {
            Box::pin(async move {
                let held = breaker::lock(conn, &primary).await?;
                let step = settings.record(held.now, &held.state, failed, probe);
                if step.state != held.state {
                    breaker::store(conn, &primary, &step.state, &settings, &step.changes).await?;
                }
                Ok(step.changes)
            })
        })
        .await
    }

    async fn reserve(
        &self,
        provider: &str,
        limits: ProviderLimits,
        tokens: u64,
    ) -> Result<Admission, StoreError> {
        let provider = provider.to_owned();
        self.as_system(move |conn| {
            Box::pin(async move {
                let locked: Locked = diesel::sql_query(LOCK_SQL)
                    .bind::<Text, _>(&provider)
                    .get_result(conn)
                    .await?;
                let admission =
                    reserve_locked(conn, &provider, None, limits, tokens, locked).await?;
                count(
                    conn,
                    &provider,
                    matches!(admission, Admission::Granted { .. }),
                )
                .await?;
                Ok(admission)
            })
        })
        .await
    }

    async fn correct(&self, id: i64, tokens: u64) -> Result<(), StoreError> {
        self.as_system(move |conn| {
            Box::pin(async move {
                let freed: Option<Freed> = diesel::sql_query(CORRECT_SQL)
                    .bind::<BigInt, _>(id)
                    .bind::<BigInt, _>(signed(tokens))
                    .get_result(conn)
                    .await
                    .optional()?;
                if let Some(freed) = freed.filter(|f| f.freed > 0) {
                    diesel::sql_query(WAKE_SQL)
                        .bind::<Text, _>(&freed.provider)
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn pause(
        &self,
        provider: &str,
        retry_after: Option<Duration>,
        fallback: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let provider = provider.to_owned();
        self.as_system(move |conn| {
            Box::pin(async move {
                let locked: Locked = diesel::sql_query(LOCK_SQL)
                    .bind::<Text, _>(&provider)
                    .get_result(conn)
                    .await?;
                let now = locked.now;
                let current = locked.paused_until.filter(|u| *u > now);
                let until = pause_until(now, current, retry_after, fallback);
                // What this adds to the time paused, for the metric.
                let added = (until - current.unwrap_or(now)).num_milliseconds().max(0);
                diesel::sql_query(
                    "UPDATE provider_state SET paused_until = $2, paused_ms = paused_ms + $3,
                            updated_at = now()
                     WHERE provider = $1",
                )
                .bind::<Text, _>(&provider)
                .bind::<Timestamptz, _>(until)
                .bind::<BigInt, _>(added)
                .execute(conn)
                .await?;
                Ok(current
                    .is_none()
                    .then(|| (until - now).to_std().unwrap_or(Duration::ZERO)))
            })
        })
        .await
    }

    async fn provider_stats(&self, window: Duration) -> Result<Vec<ProviderStats>, StoreError> {
        self.as_system(move |conn| Box::pin(async move { provider_stats(conn, window).await }))
            .await
    }
}
