//! The drafts of modules being regenerated (issue #21), in the unlogged `module_drafts`: written
//! by the run while it holds its lease, read by the plan's event streams as their user, deleted
//! by the transaction that ends the run.

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::JobId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::DraftRecord;
use crate::rows::numbers::to_u32;

#[derive(QueryableByName)]
struct DraftRow {
    #[diesel(sql_type = SqlUuid)]
    job_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    module_id: Uuid,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Integer)]
    seq: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
}

/// Whether a regeneration of `module` is queued or running (read through the partial unique
/// index `jobs_one_active_module_regeneration_idx`, whose predicate this repeats).
pub(crate) async fn regeneration_live(
    conn: &mut AsyncPgConnection,
    module: Uuid,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Live {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        live: bool,
    }
    let row: Live = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE (payload ->> 'module_id') = $1::text
                        AND job_type = 'module_regeneration'
                        AND status IN ('pending', 'processing')) AS live",
    )
    .bind::<SqlUuid, _>(module)
    .get_result(conn)
    .await?;
    Ok(row.live)
}

/// The plan's drafts of runs still going, by job (a draft an interrupted run left is not shown).
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<Vec<DraftRecord>, StoreError> {
    let rows: Vec<DraftRow> = diesel::sql_query(
        "SELECT d.job_id, d.module_id, d.position, d.seq, d.module FROM module_drafts d
         JOIN jobs j ON j.id = d.job_id AND j.status = 'processing'
         WHERE d.plan_id = $1 ORDER BY d.job_id",
    )
    .bind::<SqlUuid, _>(plan)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DraftRecord {
            job_id: JobId::from_uuid(r.job_id),
            module_id: r.module_id,
            order: to_u32(r.position),
            seq: to_u32(r.seq),
            module: r.module,
        })
        .collect())
}

/// Deletes a job's draft (when its run starts again or ends).
pub(crate) async fn clear(conn: &mut AsyncPgConnection, job: Uuid) -> Result<(), StoreError> {
    diesel::sql_query("DELETE FROM module_drafts WHERE job_id = $1")
        .bind::<SqlUuid, _>(job)
        .execute(conn)
        .await?;
    Ok(())
}

/// What [`write`] writes.
pub(crate) struct NewDraft {
    pub(crate) job: Uuid,
    pub(crate) lease: Uuid,
    pub(crate) plan: Uuid,
    pub(crate) module: Uuid,
    pub(crate) position: i32,
    pub(crate) seq: i32,
    pub(crate) draft: serde_json::Value,
}

/// Writes a job's draft for the job's owner, only while its run holds `lease` (a run cancelled
/// mid-statement leaves nothing behind the transaction that ends it). Runs as the system (the
/// row's user is the job's); the row is disposable, so the commit does not wait for the WAL.
pub(crate) async fn write(conn: &mut AsyncPgConnection, d: NewDraft) -> Result<(), StoreError> {
    diesel::sql_query("SELECT set_config('synchronous_commit', 'off', true)")
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO module_drafts (job_id, plan_id, module_id, position, user_id, seq, module)
         SELECT j.id, j.plan_id, $3, $4, j.user_id, $5, $6 FROM jobs j
         WHERE j.id = $1 AND j.lease_token = $2 AND j.status = 'processing' AND j.plan_id = $7
         ON CONFLICT (job_id) DO UPDATE SET seq = EXCLUDED.seq, module = EXCLUDED.module,
             position = EXCLUDED.position, updated_at = now()",
    )
    .bind::<SqlUuid, _>(d.job)
    .bind::<SqlUuid, _>(d.lease)
    .bind::<SqlUuid, _>(d.module)
    .bind::<Integer, _>(d.position)
    .bind::<Integer, _>(d.seq)
    .bind::<Jsonb, _>(d.draft)
    .bind::<SqlUuid, _>(d.plan)
    .execute(conn)
    .await?;
    Ok(())
}
