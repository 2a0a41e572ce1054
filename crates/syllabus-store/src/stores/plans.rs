//! [`PlanStore`](crate::ports::PlanStore) on [`Database`]: creating, reading, listing and
//! deleting plans, their attempts, regenerating, and what a plan's event stream shows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{
    AttemptCap, FailureClass, JobType, NormalizedPlan, Origin, PlanChanges, PlanId, UserId,
    Visibility, plan_status_from_counts,
};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_plan};
use crate::pool::Database;
use crate::previews;
use crate::records::{
    Actor, AttemptRecord, Idempotency, JobRecord, Keyed, NewAttempt, NewJob, NewPlan, Page,
    PageRequest, PlanDetail, PlanFilter, PlanRecord, PlanStreamState, ProgressRecord, RateLimit,
    Regeneration,
};
use crate::rows::attempts::AttemptRow;
use crate::rows::numbers::to_i32;
use crate::rows::plans::{PlanInsert, PlanRow};
use crate::schema::{generation_attempts, plans};
use crate::sql::attempts::{insert_attempt, numbered_attempts};
use crate::sql::content_writes::replace_modules_and_tasks;
use crate::sql::drafts;
use crate::sql::idempotency;
use crate::sql::job_writes::insert_job;
use crate::sql::plan_changes::change_plan;
use crate::sql::plans::plan_row;
use crate::sql::progress::{discard_progress, has_progress, plan_progress, progress_of};
use crate::sql::rate_window::{count_without_job, lock_rate_window};
use crate::sql::skill_previews;
use crate::sql::users::{UserRow, record_user};

use crate::sql::plan_reads::{generating, latest_attempts, plan_detail, plans_page_query};

/// Inserts a new plan of `user` with `origin`; its id and dates.
async fn insert_plan(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: &NewPlan,
    origin: Origin,
) -> Result<(Uuid, DateTime<Utc>, DateTime<Utc>), StoreError> {
    let id = PlanId::new().as_uuid();
    let (created_at, updated_at): (DateTime<Utc>, DateTime<Utc>) =
        diesel::insert_into(plans::table)
            .values(PlanInsert {
                id,
                user_id: user.as_str(),
                topic: &plan.topic,
                topic_truncated: plan.topic_truncated,
                topic_original_length: to_i32(plan.topic_original_length),
                notes: plan.notes.as_deref(),
                notes_truncated: plan.notes_truncated,
                notes_original_length: plan.notes_original_length.map(to_i32),
                skill_level: &plan.skill_level,
                weekly_hours: i16::from(plan.weekly_hours),
                learning_style: &plan.learning_style,
                start_date: plan.start_date,
                deadline_date: plan.deadline_date,
                study_days: i16::from(plan.study_days.bits()),
                origin: origin.as_str(),
                forked_from: None,
            })
            .returning((plans::created_at, plans::updated_at))
            .get_result(conn)
            .await?;
    Ok((id, created_at, updated_at))
}

impl crate::ports::PlanStore for Database {
    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn import_plan(
        &self,
        user: &UserId,
        plan: &NewPlan,
        content: &NormalizedPlan,
        idem: Option<Idempotency<PlanDetail>>,
    ) -> Result<Keyed<PlanDetail>, StoreError> {
        let (owner, plan, content) = (user.clone(), plan.clone(), content.clone());
        self.as_user(user, move |conn| {
            Box::pin(async move {
                if let Some(answer) = idempotency::claim(conn, &owner, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                record_user(conn, &owner, user_row).await?;
                let (id, _, _) = insert_plan(conn, &owner, &plan, Origin::Manual).await?;
                replace_modules_and_tasks(conn, owner.as_str(), id, &content).await?;
                let detail = plan_detail(conn, &owner, id).await?;
                idempotency::finish(conn, &owner, idem, detail).await
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %actor.user))]
    async fn create_plan(
        &self,
        actor: &Actor,
        plan: &NewPlan,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<(PlanDetail, JobRecord)>>,
    ) -> Result<Keyed<(PlanDetail, JobRecord)>, StoreError> {
        let actor = actor.clone();
        let plan = plan.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                // Before the rate window: a replay creates nothing and counts nothing.
                if let Some(answer) = idempotency::claim(conn, &actor.user, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                let at =
                    lock_rate_window(conn, &actor.user, user_row, JobType::PlanGeneration, limit)
                        .await?;
                let (id, created_at, updated_at) =
                    insert_plan(conn, &actor.user, &plan, Origin::Ai).await?;
                let job = insert_job(
                    conn,
                    &actor,
                    &NewJob {
                        job_type: JobType::PlanGeneration,
                        plan_id: Some(PlanId::from_uuid(id)),
                        payload: serde_json::json!({ "plan_id": id }),
                        max_attempts: max_attempts.clamp(1, AttemptCap::MAX),
                        priority: 0,
                    },
                    at,
                )
                .await?;
                // A new plan has no attempts and no content: its view needs no reads.
                let detail = PlanDetail {
                    plan: PlanRecord {
                        id: PlanId::from_uuid(id),
                        request: plan.request(),
                        topic_truncated: plan.topic_truncated,
                        topic_original_length: plan.topic_original_length,
                        notes_truncated: plan.notes_truncated,
                        notes_original_length: plan.notes_original_length,
                        status: plan_status_from_counts(false, 0),
                        attempts_used: 0,
                        total_minutes: 0,
                        progress: ProgressRecord::default(),
                        latest_attempt: None,
                        visibility: Visibility::Private,
                        origin: Origin::Ai,
                        forked_from: None,
                        created_at,
                        updated_at,
                    },
                    modules: Vec::new(),
                    generating: true,
                };
                idempotency::finish(conn, &actor.user, idem, (detail, job)).await
            })
        })
        .await
    }

    async fn plan(&self, user: &UserId, id: PlanId) -> Result<PlanDetail, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move { plan_detail(conn, &owner, id.as_uuid()).await })
        })
        .await
    }

    async fn plans(
        &self,
        user: &UserId,
        filter: PlanFilter,
        page: PageRequest,
    ) -> Result<Page<PlanRecord>, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let rows: Vec<PlanRow> = plans_page_query(&owner, filter, page.after, page.fetch())
                    .load(conn)
                    .await?;
                let Page {
                    items: rows,
                    next_cursor,
                } = Page::from_fetched(rows, page.size(), |r| r.id);
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                let mut latest = latest_attempts(conn, &ids).await?;
                let mut progress = progress_of(conn, &owner, &ids).await?;
                let items = rows
                    .into_iter()
                    .map(|r| {
                        let pos = latest.iter().position(|(plan, _)| *plan == r.id);
                        let attempt = pos.map(|p| latest.swap_remove(p).1);
                        let progress = progress.remove(&r.id).unwrap_or_default();
                        r.into_record(attempt, progress)
                    })
                    .collect();
                Ok(Page { items, next_cursor })
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user, plan.id = %id))]
    async fn update_plan(
        &self,
        user: &UserId,
        id: PlanId,
        changes: &PlanChanges,
    ) -> Result<PlanDetail, StoreError> {
        let owner = user.clone();
        let changes = changes.clone();
        self.as_user_retrying(user, move |conn| {
            let (owner, changes) = (owner.clone(), changes.clone());
            Box::pin(async move {
                change_plan(conn, id.as_uuid(), &changes).await?;
                plan_detail(conn, &owner, id.as_uuid()).await
            })
        })
        .await
    }

    async fn delete_plan(&self, user: &UserId, id: PlanId) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user_retrying(user, |conn| {
            let user_id = user_id.clone();
            Box::pin(async move {
                // The plan first (see crate::locks), then its jobs; the cascade follows.
                lock_plan(conn, id.as_uuid(), PlanLock::Delete).await?;
                // Its queued jobs, including distractor jobs, which name a card, not the plan.
                diesel::sql_query(
                    "UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now()
                     WHERE status = 'pending' AND user_id = $2
                       AND (plan_id = $1
                            OR (job_type = 'distractors' AND payload->>'flashcard_id' IN
                                (SELECT id::text FROM flashcards WHERE plan_id = $1)))",
                )
                .bind::<SqlUuid, _>(id.as_uuid())
                .bind::<Text, _>(user_id)
                .execute(conn)
                .await?;
                diesel::delete(plans::table.filter(plans::id.eq(id.as_uuid())))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn attempts(
        &self,
        user: &UserId,
        id: PlanId,
        page: PageRequest,
    ) -> Result<Page<AttemptRecord>, StoreError> {
        let owner = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let exists: bool = diesel::select(diesel::dsl::exists(
                    plans::table
                        .filter(plans::id.eq(id.as_uuid()))
                        .filter(plans::user_id.eq(&owner)),
                ))
                .get_result(conn)
                .await?;
                if !exists {
                    return Err(StoreError::NotFound);
                }
                let mut q = generation_attempts::table
                    .filter(generation_attempts::plan_id.eq(id.as_uuid()))
                    .filter(generation_attempts::user_id.eq(owner.clone()))
                    .order((
                        generation_attempts::created_at.desc(),
                        generation_attempts::id.desc(),
                    ))
                    .limit(page.fetch())
                    .select(AttemptRow::as_select())
                    .into_boxed();
                if let Some(after) = page.after {
                    // Keyset on (created_at, id), the list's order; a cursor that is not one of
                    // this plan's attempts ends the list.
                    let at: Option<DateTime<Utc>> = generation_attempts::table
                        .filter(generation_attempts::id.eq(after))
                        .filter(generation_attempts::plan_id.eq(id.as_uuid()))
                        .select(generation_attempts::created_at)
                        .first(conn)
                        .await
                        .optional()?;
                    let Some(at) = at else {
                        return Ok(Page {
                            items: Vec::new(),
                            next_cursor: None,
                        });
                    };
                    q = q.filter(
                        generation_attempts::created_at
                            .lt(at)
                            .or(generation_attempts::created_at
                                .eq(at)
                                .and(generation_attempts::id.lt(after))),
                    );
                }
                let rows: Vec<AttemptRow> = q.load(conn).await?;
                let items = rows.into_iter().map(AttemptRow::into_record).collect();
                Ok(Page::from_fetched(
                    items,
                    page.size(),
                    |a: &AttemptRecord| a.id,
                ))
            })
        })
        .await
    }

    async fn regenerate(
        &self,
        actor: &Actor,
        id: PlanId,
        discard: bool,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> Result<Keyed<Regeneration>, StoreError> {
        let actor = actor.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                if let Some(answer) = idempotency::claim(conn, &actor.user, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                // Lock the plan row: concurrent regenerates of one plan serialize here.
                let found: Option<Uuid> = plans::table
                    .filter(plans::id.eq(id.as_uuid()))
                    .select(plans::id)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if found.is_none() {
                    return Err(StoreError::NotFound);
                }
                let active: bool = diesel::sql_query(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE plan_id = $1
                        AND job_type = 'plan_generation' AND status IN ('pending', 'processing'))
                     AS active",
                )
                .bind::<SqlUuid, _>(id.as_uuid())
                .get_result::<Active>(conn)
                .await?
                .active;
                if active {
                    return Err(StoreError::InvalidState(
                        "a generation of this plan is already queued or running".into(),
                    ));
                }
                // A module regeneration enqueues under this same lock, so neither can slip in
                // behind the other: the whole plan is not replaced under one of its modules.
                let regenerating: bool = diesel::sql_query(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE plan_id = $1
                        AND job_type = 'module_regeneration'
                        AND status IN ('pending', 'processing')) AS active",
                )
                .bind::<SqlUuid, _>(id.as_uuid())
                .get_result::<Active>(conn)
                .await?
                .active;
                if regenerating {
                    return Err(StoreError::InvalidState(
                        "a regeneration of one of this plan's modules is queued or running".into(),
                    ));
                }
                // Under the plan's lock: a task ticked off concurrently commits before this
                // reads (or waits for this transaction and then finds a generation live).
                if has_progress(conn, id.as_uuid()).await? {
                    if !discard {
                        return Err(StoreError::InvalidState(
                            "the plan has progress on its tasks, which a regeneration discards: \
                             send {\"discard_progress\": true} to regenerate anyway"
                                .into(),
                        ));
                    }
                    discard_progress(conn, id.as_uuid()).await?;
                }
                let used = numbered_attempts(conn, id.as_uuid()).await?;
                if AttemptCap::next_attempt(used).is_none() {
                    // Refused without a provider call, but counted: a client looping on a capped
                    // plan is rate-limited like one creating jobs.
                    let at = lock_rate_window(
                        conn,
                        &actor.user,
                        user_row,
                        JobType::PlanGeneration,
                        limit,
                    )
                    .await?;
                    count_without_job(conn, &actor.user, JobType::PlanGeneration, limit, at)
                        .await?;
                    let attempt = insert_attempt(
                        conn,
                        actor.user.as_str(),
                        id.as_uuid(),
                        None,
                        None,
                        None,
                        &NewAttempt {
                            classification: Some(FailureClass::Capped),
                            error: Some(FailureClass::Capped.user_message().to_owned()),
                            ..NewAttempt::default()
                        },
                    )
                    .await?;
                    idempotency::forget(conn, &actor.user, idem).await?;
                    return Ok(Keyed::Fresh(Regeneration::Capped(attempt)));
                }
                let at =
                    lock_rate_window(conn, &actor.user, user_row, JobType::PlanGeneration, limit)
                        .await?;
                let job = insert_job(
                    conn,
                    &actor,
                    &NewJob {
                        job_type: JobType::PlanGeneration,
                        plan_id: Some(id),
                        payload: serde_json::json!({ "plan_id": id.as_uuid() }),
                        max_attempts: max_attempts.clamp(1, AttemptCap::MAX - used),
                        priority: 0,
                    },
                    at,
                )
                .await?;
                Ok(
                    match idempotency::finish(conn, &actor.user, idem, job).await? {
                        Keyed::Fresh(job) => Keyed::Fresh(Regeneration::Queued(job)),
                        Keyed::Replay(answer) => Keyed::Replay(answer),
                    },
                )
            })
        })
        .await
    }

    async fn plan_stream(&self, user: &UserId, id: PlanId) -> Result<PlanStreamState, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let plan = id.as_uuid();
                let row = plan_row(conn, plan).await?;
                // Every attempt at once (at most 3 numbered and one `capped` row), oldest first:
                // the last is the plan's latest attempt, the numbered ones are the stream's.
                let mut attempts: Vec<AttemptRecord> = generation_attempts::table
                    .filter(generation_attempts::plan_id.eq(plan))
                    .filter(generation_attempts::module_id.is_null())
                    .order((generation_attempts::created_at, generation_attempts::id))
                    .select(AttemptRow::as_select())
                    .load(conn)
                    .await?
                    .into_iter()
                    .map(AttemptRow::into_record)
                    .collect();
                let latest = attempts.last().cloned();
                attempts.retain(|a| a.number.is_some());
                attempts.sort_by_key(|a| a.number);
                let in_flight = u32::try_from(attempts.len()).unwrap_or(u32::MAX) + 1;
                let previews = previews::load(conn, plan, in_flight).await?;
                let progress = plan_progress(conn, &owner, plan).await?;
                let plan = row.into_record(latest, progress);
                let generating = generating(conn, &plan).await?;
                let drafts = drafts::load(conn, id.as_uuid()).await?;
                let skills = skill_previews::load(conn, id.as_uuid()).await?;
                Ok(PlanStreamState {
                    plan,
                    attempts,
                    previews,
                    generating,
                    drafts,
                    skills,
                })
            })
        })
        .await
    }
}

#[derive(QueryableByName)]
struct Active {
    #[diesel(sql_type = Bool)]
    active: bool,
}
