//! The primary provider's circuit breaker on its `provider_state` row (issue #22 item 3): the
//! lock that reads it (with the pause and the clock, as a reservation's lock does) and the write
//! of a changed state. The transitions are [`syllabus_domain::breaker`]'s.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::breaker::{BreakerSettings, BreakerState, Change, Phase};

use crate::error::StoreError;

/// Takes the provider's row (creating it) for the rest of the transaction, as the limits'
/// reservation does, and reads its pause, its breaker and the clock after the lock.
const LOCK_SQL: &str = "INSERT INTO provider_state AS s (provider) VALUES ($1)
    ON CONFLICT (provider) DO UPDATE SET provider = s.provider
    RETURNING s.paused_until, clock_timestamp() AS now, s.breaker, s.breaker_failures,
              s.breaker_until, s.probe_until";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    paused_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    breaker: String,
    #[diesel(sql_type = Array<Timestamptz>)]
    breaker_failures: Vec<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    breaker_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    probe_until: Option<DateTime<Utc>>,
}

/// A provider's row, held.
pub(crate) struct Held {
    /// Its 429 pause.
    pub(crate) paused_until: Option<DateTime<Utc>>,
    /// The clock, read after the lock.
    pub(crate) now: DateTime<Utc>,
    /// Its breaker as stored.
    pub(crate) state: BreakerState,
}

/// Locks `provider`'s row and reads it.
pub(crate) async fn lock(conn: &mut AsyncPgConnection, provider: &str) -> Result<Held, StoreError> {
    let row: Row = diesel::sql_query(LOCK_SQL)
        .bind::<Text, _>(provider)
        .get_result(conn)
        .await?;
    let phase = Phase::parse(&row.breaker).unwrap_or(Phase::Healthy);
    let mut failures = row.breaker_failures;
    failures.sort();
    Ok(Held {
        paused_until: row.paused_until,
        now: row.now,
        state: BreakerState {
            phase,
            failures,
            until: row.breaker_until.filter(|_| phase == Phase::Failover),
            probe_until: row.probe_until.filter(|_| phase == Phase::Recovery),
        },
    })
}

/// Writes `state` on `provider`'s (held) row; `changes` are the phase changes that led to it
/// (each opening counts in `failovers`).
pub(crate) async fn store(
    conn: &mut AsyncPgConnection,
    provider: &str,
    state: &BreakerState,
    settings: &BreakerSettings,
    changes: &[Change],
) -> Result<(), StoreError> {
    let opened = changes.iter().filter(|c| c.to == Phase::Failover).count();
    diesel::sql_query(
        "UPDATE provider_state SET breaker = $2, breaker_failures = $3, breaker_until = $4,
                probe_until = $5, failovers = failovers + $6,
                breaker_changed_at = CASE WHEN breaker = $2 THEN breaker_changed_at ELSE now() END,
                updated_at = now()
         WHERE provider = $1",
    )
    .bind::<Text, _>(provider)
    .bind::<Text, _>(state.phase.as_str())
    .bind::<Array<Timestamptz>, _>(state.failures.clone())
    .bind::<Nullable<Timestamptz>, _>(state.expires(settings))
    .bind::<Nullable<Timestamptz>, _>(state.probe_until)
    .bind::<BigInt, _>(i64::try_from(opened).unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}
