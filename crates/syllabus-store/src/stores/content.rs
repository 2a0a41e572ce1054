//! [`ContentStore`](crate::ports::ContentStore) on [`Database`]: enqueueing flashcards,
//! distractors and skill-tree jobs (ownership and state checked in the same transaction as the
//! rate limit), retrying a failed one, and reading a plan's deck and tree.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{FlashcardId, JobId, JobPayload, JobStatus, JobType, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_card, lock_plan};
use crate::pool::Database;
use crate::records::{
    Actor, FlashcardRecord, Idempotency, JobRecord, Keyed, NewJob, RateLimit, SkillTreeRecord,
};
use crate::rows::content::{NodeRow, node_records, path_key};
use crate::schema::{distractors, flashcards, jobs, skill_nodes, skill_trees};
use crate::sql::drafts::regeneration_live;
use crate::sql::idempotency;
use crate::sql::job_writes::insert_job;
use crate::sql::plan_reads::generation_live;
use crate::sql::plans::{module_titles, plan_topic};
use crate::sql::rate_window::lock_rate_window;
use crate::sql::users::UserRow;

/// Checks that what a payload names exists for this user and can be worked on.
async fn check_subject(
    conn: &mut AsyncPgConnection,
    payload: &JobPayload,
) -> Result<(), StoreError> {
    match payload {
        JobPayload::PlanGeneration { plan_id } | JobPayload::SkillTree { plan_id } => {
            lock_plan(conn, plan_id.as_uuid(), PlanLock::KeyShare).await
        }
        JobPayload::Flashcards {
            plan_id, module_id, ..
        } => {
            lock_plan(conn, plan_id.as_uuid(), PlanLock::KeyShare).await?;
            let titles = module_titles(conn, *plan_id, *module_id).await?;
            if titles.is_empty() {
                return Err(match module_id {
                    Some(_) => StoreError::NotFound,
                    None => StoreError::InvalidState(
                        "the plan has no modules yet: wait until it is ready".into(),
                    ),
                });
            }
            Ok(())
        }
        JobPayload::ModuleRegeneration {
            plan_id, module_id, ..
        } => {
            // Under the plan's write lock: a plan's regeneration (which takes it too) and a
            // second regeneration of the module wait, then see this one's job.
            lock_plan(conn, plan_id.as_uuid(), PlanLock::Write).await?;
            if module_titles(conn, *plan_id, Some(*module_id))
                .await?
                .is_empty()
            {
                return Err(StoreError::NotFound);
            }
            if generation_live(conn, plan_id.as_uuid()).await? {
                return Err(StoreError::InvalidState(
                    "a generation of this plan is queued or running: wait until it ends".into(),
                ));
            }
            if regeneration_live(conn, *module_id).await? {
                return Err(StoreError::InvalidState(
                    "a regeneration of this module is already queued or running".into(),
                ));
            }
            Ok(())
        }
        // Queued by the database (a job's end) or a test event, never through this port.
        JobPayload::WebhookDelivery { .. } => Err(StoreError::InvalidState(
            "webhook deliveries are not created as jobs".into(),
        )),
        JobPayload::Distractors { flashcard_id } => {
            lock_card(conn, flashcard_id.as_uuid(), PlanLock::KeyShare)
                .await
                .map(drop)
        }
    }
}

impl crate::ports::ContentStore for Database {
    async fn enqueue(
        &self,
        actor: &Actor,
        payload: &JobPayload,
        priority: i16,
        max_attempts: u32,
        limit: RateLimit,
    ) -> Result<JobRecord, StoreError> {
        match self
            .enqueue_keyed(actor, payload, priority, max_attempts, limit, None)
            .await?
        {
            Keyed::Fresh(job) => Ok(job),
            Keyed::Replay(_) => Err(StoreError::Unexpected("a replay without a key".into())),
        }
    }

    async fn enqueue_keyed(
        &self,
        actor: &Actor,
        payload: &JobPayload,
        priority: i16,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> Result<Keyed<JobRecord>, StoreError> {
        let actor = actor.clone();
        let payload = payload.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                // Before anything else: a replay reads nothing of the subject and counts nothing.
                if let Some(answer) = idempotency::claim(conn, &actor.user, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                check_subject(conn, &payload).await?;
                let at = lock_rate_window(conn, &actor.user, user_row, payload.job_type(), limit)
                    .await?;
                let job = insert_job(
                    conn,
                    &actor,
                    &NewJob {
                        job_type: payload.job_type(),
                        plan_id: payload.plan_id(),
                        payload: payload.to_json(),
                        max_attempts: max_attempts.max(1),
                        priority,
                    },
                    at,
                )
                .await?;
                idempotency::finish(conn, &actor.user, idem, job).await
            })
        })
        .await
    }

    async fn retry_job(
        &self,
        actor: &Actor,
        id: JobId,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> Result<Keyed<JobRecord>, StoreError> {
        let actor = actor.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                if let Some(answer) = idempotency::claim(conn, &actor.user, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                let (job_type, status, payload, priority, reask): (
                    String,
                    String,
                    serde_json::Value,
                    i16,
                    Option<serde_json::Value>,
                ) = jobs::table
                    .filter(jobs::id.eq(id.as_uuid()))
                    // The runtime's own jobs (webhook deliveries) are not the user's to retry.
                    .filter(jobs::job_type.ne(JobType::WebhookDelivery.as_str()))
                    .select((
                        jobs::job_type,
                        jobs::status,
                        jobs::payload,
                        jobs::priority,
                        jobs::reask,
                    ))
                    .first(conn)
                    .await?;
                if status != JobStatus::Failed.as_str() {
                    return Err(StoreError::InvalidState(format!(
                        "only failed jobs can be retried; this one is {status}"
                    )));
                }
                let job_type: JobType = job_type
                    .parse()
                    .map_err(|()| StoreError::Unexpected("unknown job type".into()))?;
                let payload = JobPayload::parse(job_type, &payload)
                    .map_err(|e| StoreError::Unexpected(format!("stored payload: {e}")))?;
                check_subject(conn, &payload).await?;
                let at = lock_rate_window(conn, &actor.user, user_row, job_type, limit).await?;
                let job = insert_job(
                    conn,
                    &actor,
                    &NewJob {
                        job_type,
                        plan_id: payload.plan_id(),
                        payload: payload.to_json(),
                        max_attempts: max_attempts.max(1),
                        priority,
                    },
                    at,
                )
                .await?;
                // The retry re-asks with what the failed job's last answer broke.
                if reask.is_some() {
                    diesel::update(jobs::table.filter(jobs::id.eq(job.id.as_uuid())))
                        .set(jobs::reask.eq(reask))
                        .execute(conn)
                        .await?;
                }
                idempotency::finish(conn, &actor.user, idem, job).await
            })
        })
        .await
    }

    async fn flashcards(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> Result<Vec<FlashcardRecord>, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                plan_topic(conn, plan).await?;
                type CardRow = (Uuid, Option<Uuid>, String, String, DateTime<Utc>);
                let cards: Vec<CardRow> = flashcards::table
                    .filter(flashcards::plan_id.eq(plan.as_uuid()))
                    .order((flashcards::created_at, flashcards::id))
                    .select((
                        flashcards::id,
                        flashcards::module_id,
                        flashcards::question,
                        flashcards::answer,
                        flashcards::created_at,
                    ))
                    .load(conn)
                    .await?;
                let ids: Vec<Uuid> = cards.iter().map(|c| c.0).collect();
                let wrong: Vec<(Uuid, String)> = distractors::table
                    .filter(distractors::flashcard_id.eq_any(&ids))
                    .order((distractors::flashcard_id, distractors::position))
                    .select((distractors::flashcard_id, distractors::text))
                    .load(conn)
                    .await?;
                Ok(cards
                    .into_iter()
                    .map(
                        |(id, module_id, question, answer, created_at)| FlashcardRecord {
                            id: FlashcardId::from_uuid(id),
                            plan_id: plan,
                            module_id,
                            question,
                            answer,
                            distractors: wrong
                                .iter()
                                .filter(|w| w.0 == id)
                                .map(|w| w.1.clone())
                                .collect(),
                            created_at,
                        },
                    )
                    .collect())
            })
        })
        .await
    }

    async fn skill_tree(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> Result<Option<SkillTreeRecord>, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                plan_topic(conn, plan).await?;
                let tree: Option<(Uuid, i32, i16, DateTime<Utc>)> = skill_trees::table
                    .filter(skill_trees::plan_id.eq(plan.as_uuid()))
                    .select((
                        skill_trees::id,
                        skill_trees::node_count,
                        skill_trees::depth,
                        skill_trees::created_at,
                    ))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((id, node_count, depth, created_at)) = tree else {
                    return Ok(None);
                };
                let mut nodes: Vec<NodeRow> = skill_nodes::table
                    .filter(skill_nodes::tree_id.eq(id))
                    .select((
                        skill_nodes::id,
                        skill_nodes::parent_id,
                        skill_nodes::depth,
                        skill_nodes::path,
                        skill_nodes::title,
                        skill_nodes::description,
                    ))
                    .load(conn)
                    .await?;
                nodes.sort_by_key(|n| path_key(&n.3));
                Ok(Some(SkillTreeRecord {
                    id,
                    plan_id: plan,
                    node_count: u32::try_from(node_count).unwrap_or(0),
                    depth: u32::try_from(depth).unwrap_or(0),
                    roots: node_records(&nodes, None),
                    created_at,
                }))
            })
        })
        .await
    }
}
