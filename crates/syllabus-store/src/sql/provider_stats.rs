//! Every provider's shared figures (issue #22): the reservation counters and pause of
//! `provider_state`, its circuit breaker's phase, and the calls and tokens of the window's reservations; read by the limiter
//! port and by the queue's metrics.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::breaker::Phase;

use crate::error::StoreError;
use crate::records::ProviderStats;

#[derive(QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = BigInt)]
    granted: i64,
    #[diesel(sql_type = BigInt)]
    refused: i64,
    #[diesel(sql_type = BigInt)]
    paused_ms: i64,
    #[diesel(sql_type = Bool)]
    paused: bool,
    #[diesel(sql_type = BigInt)]
    window_requests: i64,
    #[diesel(sql_type = BigInt)]
    window_tokens: i64,
    #[diesel(sql_type = Text)]
    breaker: String,
    #[diesel(sql_type = BigInt)]
    failovers: i64,
}

/// The figures, the window being the last `window` (one row per provider that was ever
/// reserved or paused; the reservations are read through `provider_reservations_window`).
pub(crate) async fn provider_stats(
    conn: &mut AsyncPgConnection,
    window: Duration,
) -> Result<Vec<ProviderStats>, StoreError> {
    let ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let rows: Vec<StatsRow> = diesel::sql_query(
        "SELECT s.provider, s.granted, s.refused, s.paused_ms,
                coalesce(s.paused_until > now(), false) AS paused,
                count(r.id) AS window_requests,
                coalesce(sum(r.tokens), 0)::bigint AS window_tokens,
                -- The breaker's phase as it stands (`breaker_until` ends failover and degraded).
                CASE WHEN s.breaker = 'failover' AND s.breaker_until <= now() THEN 'recovery'
                     WHEN s.breaker = 'degraded' AND s.breaker_until <= now() THEN 'healthy'
                     ELSE s.breaker END AS breaker,
                s.failovers
         FROM provider_state s
         LEFT JOIN provider_reservations r ON r.provider = s.provider
              AND r.at > now() - make_interval(secs => $1 / 1000.0)
         GROUP BY s.provider ORDER BY s.provider",
    )
    .bind::<BigInt, _>(ms)
    .load(conn)
    .await?;
    let n = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|r| ProviderStats {
            provider: r.provider,
            granted: n(r.granted),
            refused: n(r.refused),
            window_requests: n(r.window_requests),
            window_tokens: n(r.window_tokens),
            paused_ms: n(r.paused_ms),
            paused: r.paused,
            breaker: Phase::parse(&r.breaker).unwrap_or(Phase::Healthy),
            failovers: n(r.failovers),
        })
        .collect())
}
