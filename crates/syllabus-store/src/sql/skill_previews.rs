//! The top-level skills of skill-tree answers as they stream (issue #24), in `skill_previews`:
//! written by the run while it holds its lease, with the run's number; read by the plan's event
//! streams as their user (the plan's latest skill-tree job's only, jobs ordered by creation);
//! kept after a failed run; deleted by a later run's first skill and by the transaction that
//! saves a tree (each only for jobs created up to its own: a newer job's are left alone).

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::JobId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::SkillPreviewRecord;
use crate::rows::numbers::to_u32;

#[derive(QueryableByName)]
struct SkillRow {
    #[diesel(sql_type = SqlUuid)]
    job_id: Uuid,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Integer)]
    run: i32,
    #[diesel(sql_type = Jsonb)]
    skill: serde_json::Value,
}

/// What [`write`] writes.
pub(crate) struct NewSkill {
    pub(crate) job: Uuid,
    pub(crate) lease: Uuid,
    pub(crate) plan: Uuid,
    pub(crate) position: i32,
    pub(crate) skill: serde_json::Value,
}

#[derive(QueryableByName)]
struct RunRow {
    #[diesel(sql_type = Integer)]
    run: i32,
}

/// Writes a streamed root skill for the job's owner, only while its run holds `lease`, and only
/// while no newer skill-tree job of the plan has saved its tree (an older job still streaming
/// never shows over it). The first (`position` 0) starts a new run: its number is one more than
/// the highest this job's rows carry (the runs a client may have seen, whatever ended them: a
/// re-ask, a rescue, a release), and it deletes the plan's earlier skills: this job's earlier
/// runs' and those of jobs created before it (a newer job's stay: it is the one shown). Later
/// positions carry the run of this job's rows. Runs as the system (the row's user is the job's).
pub(crate) async fn write(conn: &mut AsyncPgConnection, s: NewSkill) -> Result<(), StoreError> {
    diesel::sql_query("SELECT set_config('synchronous_commit', 'off', true)")
        .execute(conn)
        .await?;
    let RunRow { run } = diesel::sql_query(if s.position == 0 {
        "SELECT coalesce(max(run), 0) + 1 AS run FROM skill_previews WHERE job_id = $1"
    } else {
        "SELECT coalesce(max(run), 1) AS run FROM skill_previews WHERE job_id = $1"
    })
    .bind::<SqlUuid, _>(s.job)
    .get_result(conn)
    .await?;
    if s.position == 0 {
        diesel::sql_query(
            "DELETE FROM skill_previews sp USING jobs j, jobs o
             WHERE sp.plan_id = $3 AND j.id = $1 AND j.lease_token = $2
               AND j.status = 'processing' AND j.plan_id = $3
               AND o.id = sp.job_id AND (o.created_at, o.id) <= (j.created_at, j.id)",
        )
        .bind::<SqlUuid, _>(s.job)
        .bind::<SqlUuid, _>(s.lease)
        .bind::<SqlUuid, _>(s.plan)
        .execute(conn)
        .await?;
    }
    diesel::sql_query(
        "INSERT INTO skill_previews (plan_id, job_id, position, run, user_id, skill)
         SELECT j.plan_id, j.id, $3, $6, j.user_id, $4 FROM jobs j
         WHERE j.id = $1 AND j.lease_token = $2 AND j.status = 'processing' AND j.plan_id = $5
           AND NOT EXISTS (
               SELECT 1 FROM jobs n
               WHERE n.plan_id = j.plan_id AND n.job_type = 'skill_tree'
                 AND n.status = 'completed' AND (n.created_at, n.id) > (j.created_at, j.id))
         ON CONFLICT (plan_id, job_id, position) DO UPDATE SET skill = EXCLUDED.skill,
             run = EXCLUDED.run, created_at = now()",
    )
    .bind::<SqlUuid, _>(s.job)
    .bind::<SqlUuid, _>(s.lease)
    .bind::<Integer, _>(s.position)
    .bind::<Jsonb, _>(s.skill)
    .bind::<SqlUuid, _>(s.plan)
    .bind::<Integer, _>(run)
    .execute(conn)
    .await?;
    Ok(())
}

/// The streamed skills of the plan's latest skill-tree job (by the job's creation) that has any,
/// by position.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<Vec<SkillPreviewRecord>, StoreError> {
    let rows: Vec<SkillRow> = diesel::sql_query(
        "SELECT job_id, position, run, skill FROM skill_previews
         WHERE plan_id = $1 AND job_id = (
             SELECT sp.job_id FROM skill_previews sp JOIN jobs j ON j.id = sp.job_id
             WHERE sp.plan_id = $1
             ORDER BY j.created_at DESC, j.id DESC LIMIT 1)
         ORDER BY position",
    )
    .bind::<SqlUuid, _>(plan)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SkillPreviewRecord {
            job_id: JobId::from_uuid(r.job_id),
            index: to_u32(r.position),
            run: to_u32(r.run),
            skill: r.skill,
        })
        .collect())
}

/// Deletes the plan's streamed skills of `job` and of the jobs created before it (in the
/// transaction that saves `job`'s tree); a newer job's, still streaming, stay.
pub(crate) async fn clear(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    job: Uuid,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "DELETE FROM skill_previews sp USING jobs o, jobs j
         WHERE sp.plan_id = $1 AND o.id = sp.job_id AND j.id = $2
           AND (o.created_at, o.id) <= (j.created_at, j.id)",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<SqlUuid, _>(job)
    .execute(conn)
    .await?;
    Ok(())
}
