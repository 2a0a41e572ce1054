//! Module previews of attempts in flight (issue #11): written one statement each by the worker,
//! read by the plans' event streams, deleted with the attempt's record.

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::{PlanId, UserId};

use crate::records::{Lease, PreviewRecord};
use uuid::Uuid;

use crate::{Database, StoreError};

#[derive(QueryableByName)]
struct PreviewRow {
    #[diesel(sql_type = Integer)]
    attempt_number: i32,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
}

/// One autocommitted statement: `syllabus_publish_preview` acts for the owner (row-level
/// security applies), skips the WAL flush wait (the table is unlogged and the row disposable) and
/// writes nothing once `lease` is lost.
pub(crate) async fn publish(
    db: &Database,
    lease: Lease,
    user: &UserId,
    plan: PlanId,
    attempt_number: u32,
    index: usize,
    module: &NormalizedModule,
) -> Result<(), StoreError> {
    let mut conn = db.conn().await?;
    diesel::sql_query("SELECT syllabus_publish_preview($1, $2, $3, $4, $5, $6, $7)")
        .bind::<Text, _>(user.as_str())
        .bind::<SqlUuid, _>(plan.as_uuid())
        .bind::<Integer, _>(i32::try_from(attempt_number).unwrap_or(i32::MAX))
        .bind::<Integer, _>(i32::try_from(index).unwrap_or(i32::MAX))
        .bind::<Jsonb, _>(PreviewRecord::module_json(module))
        .bind::<SqlUuid, _>(lease.job.as_uuid())
        .bind::<SqlUuid, _>(lease.token)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// The previews of `attempt_number`, by index.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    attempt_number: u32,
) -> Result<Vec<PreviewRecord>, StoreError> {
    let rows: Vec<PreviewRow> = diesel::sql_query(
        "SELECT attempt_number, position, module FROM plan_previews
         WHERE plan_id = $1 AND attempt_number = $2 ORDER BY position",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<Integer, _>(i32::try_from(attempt_number).unwrap_or(i32::MAX))
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PreviewRecord {
            attempt_number: u32::try_from(r.attempt_number).unwrap_or(0),
            index: u32::try_from(r.position).unwrap_or(0),
            module: r.module,
        })
        .collect())
}

/// Deletes the plan's previews (in the transaction that records an attempt).
pub(crate) async fn clear(conn: &mut AsyncPgConnection, plan: Uuid) -> Result<(), StoreError> {
    diesel::sql_query("DELETE FROM plan_previews WHERE plan_id = $1")
        .bind::<SqlUuid, _>(plan)
        .execute(conn)
        .await?;
    Ok(())
}
