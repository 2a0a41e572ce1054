//! Generation attempts as the plan and generation ports both write them: counting those that
//! count toward the cap, and recording one.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::FailureClass;
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{AttemptRecord, NewAttempt};
use crate::rows::attempts::{AttemptInsert, AttemptRow};
use crate::rows::numbers::{to_i32, to_u32};
use crate::schema::generation_attempts;

pub(crate) async fn numbered_attempts(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<u32, StoreError> {
    let n: i64 = generation_attempts::table
        .filter(generation_attempts::plan_id.eq(plan))
        .filter(generation_attempts::number.is_not_null())
        .count()
        .get_result(conn)
        .await?;
    Ok(to_u32(n))
}

pub(crate) async fn insert_attempt(
    conn: &mut AsyncPgConnection,
    user: &str,
    plan: Uuid,
    job: Option<Uuid>,
    number: Option<u32>,
    module: Option<Uuid>,
    a: &NewAttempt,
) -> Result<AttemptRecord, StoreError> {
    let classification = a.classification.map(FailureClass::as_str);
    let issues = a
        .issues
        .as_ref()
        .and_then(|i| serde_json::to_value(i.as_slice()).ok());
    let row = AttemptInsert {
        id: Uuid::now_v7(),
        plan_id: plan,
        user_id: user,
        job_id: job,
        number: number.map(|n| i16::try_from(n).unwrap_or(i16::MAX)),
        status: if a.classification.is_some() {
            "failure"
        } else {
            "success"
        },
        classification,
        duration_ms: i32::try_from(a.duration_ms).unwrap_or(i32::MAX),
        modules_count: to_i32(a.modules_count),
        tasks_count: to_i32(a.tasks_count),
        topic_truncated: a.topic_truncated,
        notes_truncated: a.notes_truncated,
        effort_normalized: a.effort_normalized,
        modules_clamped: to_i32(a.modules_clamped),
        tasks_clamped: to_i32(a.tasks_clamped),
        timeout_extended: a.timeout_extended,
        provider: a.provider.as_deref(),
        model: a.model.as_deref(),
        prompt_tokens: a.usage.map(|u| to_i32(u.prompt_tokens)),
        completion_tokens: a.usage.map(|u| to_i32(u.completion_tokens)),
        total_tokens: a.usage.map(|u| to_i32(u.total_tokens)),
        prompt_hash: a.prompt_hash.as_deref(),
        error: a.error.as_deref(),
        issues,
        module_id: module,
    };
    let insert = diesel::insert_into(generation_attempts::table).values(row);
    let row: AttemptRow = if number.is_some() || module.is_some() {
        insert
            .returning(AttemptRow::as_returning())
            .get_result(conn)
            .await?
    } else {
        // A plan keeps one unnumbered (capped) row: a repeat counts on it and dates it anew,
        // so refused regenerates do not add rows without bound.
        use diesel::upsert::excluded;
        use generation_attempts as ga;
        insert
            .on_conflict(ga::plan_id)
            .filter_target(ga::number.is_null().and(ga::module_id.is_null()))
            .do_update()
            .set((
                ga::times.eq(ga::times + 1),
                ga::created_at.eq(diesel::dsl::now),
                ga::job_id.eq(excluded(ga::job_id)),
                ga::error.eq(excluded(ga::error)),
                ga::duration_ms.eq(excluded(ga::duration_ms)),
            ))
            .returning(AttemptRow::as_returning())
            .get_result(conn)
            .await?
    };
    Ok(row.into_record())
}
