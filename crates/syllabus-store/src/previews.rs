//! Module previews of attempts in flight (issue #11), as the plans' event streams read them and
//! as runs clear them (written by `GenerationStore::publish_preview`, one statement each).

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::StoreError;
use crate::records::PreviewRecord;

#[derive(QueryableByName)]
struct PreviewRow {
    #[diesel(sql_type = Integer)]
    attempt_number: i32,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
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
