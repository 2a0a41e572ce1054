//! [`ModuleJobStore`](crate::regen_port::ModuleJobStore) on [`Database`] (issue #21): what a
//! module regeneration run reads, its drafts, and the one transaction that ends it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::regen::ModuleDraft;
use syllabus_domain::{FailureClass, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_plan};
use crate::pool::Database;
use crate::records::{
    DraftRecord, JobEnd, Lease, ModuleJobInput, ModuleTarget, NewAttempt, ProviderCall,
};
use crate::rows::attempts::AttemptRow;
use crate::rows::numbers::{to_i32, to_u32};
use crate::schema::{generation_attempts, modules};
use crate::sql::attempts::insert_attempt;
use crate::sql::content_writes::replace_module;
use crate::sql::drafts::{self, NewDraft};
use crate::sql::job_writes::end_job;
use crate::sql::plans::plan_row;

impl crate::regen_port::ModuleJobStore for Database {
    async fn module_input(
        &self,
        lease: Lease,
        user: &UserId,
        target: ModuleTarget,
    ) -> Result<Option<ModuleJobInput>, StoreError> {
        let ModuleTarget { plan, module } = target;
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let row = plan_row(conn, plan.as_uuid()).await?;
                let all: Vec<(Uuid, i32, String, Option<String>)> = modules::table
                    .filter(modules::plan_id.eq(plan.as_uuid()))
                    .order(modules::position)
                    .select((
                        modules::id,
                        modules::position,
                        modules::title,
                        modules::description,
                    ))
                    .load(conn)
                    .await?;
                let Some((_, position, title, description)) =
                    all.iter().find(|m| m.0 == module).cloned()
                else {
                    return Ok(None);
                };
                let other_titles = all
                    .into_iter()
                    .filter(|m| m.0 != module)
                    .map(|m| m.2)
                    .collect();
                let latest: Option<AttemptRow> = generation_attempts::table
                    .filter(generation_attempts::job_id.eq(lease.job.as_uuid()))
                    .filter(generation_attempts::module_id.eq(module))
                    .order((
                        generation_attempts::created_at.desc(),
                        generation_attempts::id.desc(),
                    ))
                    .select(AttemptRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                let reask = latest
                    .map(AttemptRow::into_record)
                    .filter(|a| a.attempt.classification == Some(FailureClass::Validation))
                    .and_then(|a| a.attempt.issues);
                // A stopped run's draft goes: this run's is not shown beside another's.
                drafts::clear(conn, lease.job.as_uuid()).await?;
                Ok(Some(ModuleJobInput {
                    request: row.request(),
                    topic_truncated: row.topic_truncated,
                    notes_truncated: row.notes_truncated,
                    order: to_u32(position),
                    title,
                    description,
                    other_titles,
                    reask,
                }))
            })
        })
        .await
    }

    async fn publish_draft(
        &self,
        lease: Lease,
        target: ModuleTarget,
        order: u32,
        seq: u32,
        draft: &ModuleDraft,
    ) -> Result<(), StoreError> {
        let ModuleTarget { plan, module } = target;
        let draft = NewDraft {
            job: lease.job.as_uuid(),
            lease: lease.token,
            plan: plan.as_uuid(),
            module,
            position: to_i32(order),
            seq: to_i32(seq),
            draft: DraftRecord::module_json(draft),
        };
        self.as_system(move |conn| Box::pin(drafts::write(conn, draft)))
            .await
    }

    async fn finish_module(
        &self,
        lease: Lease,
        user: &UserId,
        target: ModuleTarget,
        attempt: NewAttempt,
        content: Option<NormalizedModule>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> Result<(), StoreError> {
        let ModuleTarget { plan, module } = target;
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // The plan before the job (crate::locks): a delete or a plan's regeneration in
                // flight waits or wins.
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                end_job(conn, lease, &end, call.as_ref()).await?;
                insert_attempt(
                    conn,
                    &user_id,
                    plan.as_uuid(),
                    Some(lease.job.as_uuid()),
                    None,
                    Some(module),
                    &attempt,
                )
                .await?;
                drafts::clear(conn, lease.job.as_uuid()).await?;
                if let Some(content) = &content {
                    replace_module(conn, &user_id, plan.as_uuid(), module, content).await?;
                }
                Ok(())
            })
        })
        .await
    }
}
