//! [`GenerationStore`](crate::ports::GenerationStore) on [`Database`]: what a plan-generation
//! run reads when it starts, the module previews it shows, and the one transaction that records
//! its attempt and (on success) the plan's modules and tasks.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::{AttemptCap, FailureClass, NormalizedPlan, PlanId, UserId};

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_plan};
use crate::pool::Database;
use crate::previews;
use crate::publisher::NewPreview;
use crate::records::{
    AttemptRecord, GenerationInput, JobEnd, Lease, NewAttempt, PreviewRecord, ProviderCall,
};
use crate::rows::attempts::AttemptRow;
use crate::rows::numbers::{to_i32, to_u32};
use crate::schema::generation_attempts;
use crate::sql::attempts::{insert_attempt, numbered_attempts};
use crate::sql::content_writes::replace_modules_and_tasks;
use crate::sql::job_writes::end_job;
use crate::sql::plans::plan_row;

impl crate::ports::GenerationStore for Database {
    async fn publish_preview(
        &self,
        lease: Lease,
        plan: PlanId,
        attempt_number: u32,
        index: usize,
        module: &NormalizedModule,
    ) -> Result<(), StoreError> {
        // Batched with the process's other previews (crate::publisher::Publisher).
        self.previews(previews::start_publisher)
            .publish(NewPreview {
                job: lease.job.as_uuid(),
                lease: lease.token,
                plan: plan.as_uuid(),
                attempt_number: to_i32(attempt_number),
                position: i32::try_from(index).unwrap_or(i32::MAX),
                module: PreviewRecord::module_json(module),
            })
            .await
    }

    async fn read_input_clear_previews(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> Result<GenerationInput, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let row = plan_row(conn, id.as_uuid()).await?;
                let latest: Option<AttemptRow> = generation_attempts::table
                    .filter(generation_attempts::plan_id.eq(id.as_uuid()))
                    .filter(generation_attempts::number.is_not_null())
                    .order(generation_attempts::number.desc())
                    .select(AttemptRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                let reask = latest
                    .map(AttemptRow::into_record)
                    .filter(|a| a.attempt.classification == Some(FailureClass::Validation))
                    .and_then(|a| a.attempt.issues);
                // A run starts: previews a stopped run left (released, rescued) go, so this
                // run's answer is not shown beside another's.
                previews::clear(conn, id.as_uuid()).await?;
                Ok(GenerationInput {
                    request: row.request(),
                    topic_truncated: row.topic_truncated,
                    notes_truncated: row.notes_truncated,
                    attempts_used: to_u32(row.attempts_used),
                    reask,
                })
            })
        })
        .await
    }

    async fn finish_generation(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        attempt: NewAttempt,
        content: Option<NormalizedPlan>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> Result<AttemptRecord, StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // The plan before the job (see crate::locks): a delete in flight waits or wins.
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                end_job(conn, lease, &end, call.as_ref()).await?;
                let used = numbered_attempts(conn, plan.as_uuid()).await?;
                let number = if attempt.classification == Some(FailureClass::Capped) {
                    None
                } else {
                    match AttemptCap::next_attempt(used) {
                        Some(n) => Some(n),
                        None => {
                            return Err(StoreError::InvalidState(
                                "the plan is at its attempt cap".into(),
                            ));
                        }
                    }
                };
                let record = insert_attempt(
                    conn,
                    &user_id,
                    plan.as_uuid(),
                    Some(lease.job.as_uuid()),
                    number,
                    None,
                    &attempt,
                )
                .await?;
                // The attempt has ended: its previews (and any a stopped run left) go with it.
                previews::clear(conn, plan.as_uuid()).await?;
                if let Some(content) = &content {
                    replace_modules_and_tasks(conn, &user_id, plan.as_uuid(), content).await?;
                }
                Ok(record)
            })
        })
        .await
    }
}
