//! Plans, their generated content and their generation attempts.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{
    AttemptCap, FailureClass, Issue, JobType, NormalizedPlan, PlanId, PlanStatus, RawPlanRequest,
    UserId, plan_status_from_counts,
};
use uuid::Uuid;

use crate::jobs::{count_without_job, insert_job, lock_rate_window};
use crate::locks::{PlanLock, lock_plan};
use crate::records::{
    Actor, AttemptRecord, GenerationInput, JobEnd, JobRecord, Lease, ModuleRecord, NewAttempt,
    NewJob, NewPlan, Page, PageRequest, PlanDetail, PlanFilter, PlanRecord, PlanStreamState,
    PreviewRecord, RateLimit, TaskRecord, TokenUsage,
};
use crate::schema::{generation_attempts, modules, plans, tasks};
use crate::{Database, StoreError};

/// What `regenerate` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Regeneration {
    /// A new generation job was queued.
    Queued(JobRecord),
    /// The plan is at the cap: a `capped` attempt was recorded and nothing was queued.
    Capped(AttemptRecord),
}

fn to_u32(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(0)
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

const PLAN_COLUMNS: &str = "
    p.id, p.topic, p.topic_truncated, p.topic_original_length, p.notes, p.notes_truncated,
    p.notes_original_length, p.skill_level, p.weekly_hours, p.learning_style, p.start_date,
    p.deadline_date, p.created_at, p.updated_at,
    EXISTS (SELECT 1 FROM modules m WHERE m.plan_id = p.id) AS has_modules,
    (SELECT count(*) FROM generation_attempts a
        WHERE a.plan_id = p.id AND a.number IS NOT NULL AND a.status = 'failure') AS failed_attempts,
    (SELECT count(*) FROM generation_attempts a
        WHERE a.plan_id = p.id AND a.number IS NOT NULL) AS attempts_used,
    (SELECT coalesce(sum(m.estimated_minutes), 0) FROM modules m WHERE m.plan_id = p.id)::bigint
        AS total_minutes";

/// The SQL mirror of [`plan_status_from_counts`] over [`PLAN_COLUMNS`] (for filtering lists;
/// `$4` is [`AttemptCap::MAX`]).
const PLAN_STATUS_SQL: &str = "
    CASE WHEN x.has_modules THEN 'ready' WHEN x.failed_attempts >= $4 THEN 'failed'
         ELSE 'pending' END";

#[derive(QueryableByName)]
#[diesel(table_name = plans)]
struct PlanRow {
    id: Uuid,
    topic: String,
    topic_truncated: bool,
    topic_original_length: i32,
    notes: Option<String>,
    notes_truncated: bool,
    notes_original_length: Option<i32>,
    skill_level: String,
    weekly_hours: i16,
    learning_style: String,
    start_date: Option<NaiveDate>,
    deadline_date: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    has_modules: bool,
    #[diesel(sql_type = BigInt)]
    failed_attempts: i64,
    #[diesel(sql_type = BigInt)]
    attempts_used: i64,
    #[diesel(sql_type = BigInt)]
    total_minutes: i64,
}

impl PlanRow {
    fn request(&self) -> RawPlanRequest {
        RawPlanRequest {
            topic: self.topic.clone(),
            notes: self.notes.clone(),
            skill_level: self.skill_level.clone(),
            weekly_hours: i64::from(self.weekly_hours),
            learning_style: self.learning_style.clone(),
            start_date: self.start_date.map(|d| d.to_string()),
            deadline_date: self.deadline_date.map(|d| d.to_string()),
        }
    }

    fn into_record(self, latest_attempt: Option<AttemptRecord>) -> PlanRecord {
        PlanRecord {
            id: PlanId::from_uuid(self.id),
            request: self.request(),
            topic_truncated: self.topic_truncated,
            topic_original_length: to_u32(self.topic_original_length),
            notes_truncated: self.notes_truncated,
            notes_original_length: self.notes_original_length.map(to_u32),
            status: plan_status_from_counts(self.has_modules, to_u32(self.failed_attempts)),
            attempts_used: to_u32(self.attempts_used),
            total_minutes: to_u32(self.total_minutes),
            latest_attempt,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = plans)]
struct PlanInsert<'a> {
    id: Uuid,
    user_id: &'a str,
    topic: &'a str,
    topic_truncated: bool,
    topic_original_length: i32,
    notes: Option<&'a str>,
    notes_truncated: bool,
    notes_original_length: Option<i32>,
    skill_level: &'a str,
    weekly_hours: i16,
    learning_style: &'a str,
    start_date: Option<NaiveDate>,
    deadline_date: Option<NaiveDate>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = generation_attempts)]
struct AttemptRow {
    id: Uuid,
    plan_id: Uuid,
    number: Option<i16>,
    classification: Option<String>,
    duration_ms: i32,
    modules_count: i32,
    tasks_count: i32,
    topic_truncated: bool,
    notes_truncated: bool,
    effort_normalized: bool,
    modules_clamped: i32,
    tasks_clamped: i32,
    timeout_extended: bool,
    provider: Option<String>,
    model: Option<String>,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    total_tokens: Option<i32>,
    prompt_hash: Option<String>,
    error: Option<String>,
    issues: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
}

impl AttemptRow {
    fn into_record(self) -> AttemptRecord {
        let usage = match (
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
        ) {
            (Some(p), Some(c), Some(t)) => Some(TokenUsage {
                prompt_tokens: to_u32(p),
                completion_tokens: to_u32(c),
                total_tokens: to_u32(t),
            }),
            _ => None,
        };
        let issues = self
            .issues
            .and_then(|v| serde_json::from_value::<Vec<Issue>>(v).ok())
            .map(|v| v.into_iter().collect());
        AttemptRecord {
            id: self.id,
            number: self.number.map(to_u32),
            attempt: NewAttempt {
                classification: self.classification.and_then(|c| c.parse().ok()),
                duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
                modules_count: to_u32(self.modules_count),
                tasks_count: to_u32(self.tasks_count),
                topic_truncated: self.topic_truncated,
                notes_truncated: self.notes_truncated,
                effort_normalized: self.effort_normalized,
                modules_clamped: to_u32(self.modules_clamped),
                tasks_clamped: to_u32(self.tasks_clamped),
                timeout_extended: self.timeout_extended,
                provider: self.provider,
                model: self.model,
                usage,
                prompt_hash: self.prompt_hash,
                error: self.error,
                issues,
            },
            created_at: self.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = generation_attempts)]
struct AttemptInsert<'a> {
    id: Uuid,
    plan_id: Uuid,
    user_id: &'a str,
    job_id: Option<Uuid>,
    number: Option<i16>,
    status: &'a str,
    classification: Option<&'a str>,
    duration_ms: i32,
    modules_count: i32,
    tasks_count: i32,
    topic_truncated: bool,
    notes_truncated: bool,
    effort_normalized: bool,
    modules_clamped: i32,
    tasks_clamped: i32,
    timeout_extended: bool,
    provider: Option<&'a str>,
    model: Option<&'a str>,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    total_tokens: Option<i32>,
    prompt_hash: Option<&'a str>,
    error: Option<&'a str>,
    issues: Option<serde_json::Value>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = modules)]
struct ModuleRow {
    id: Uuid,
    position: i32,
    title: String,
    description: Option<String>,
    estimated_minutes: i32,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tasks)]
struct TaskRow {
    id: Uuid,
    module_id: Uuid,
    position: i32,
    title: String,
    description: Option<String>,
    estimated_minutes: i32,
}

#[derive(Insertable)]
#[diesel(table_name = modules)]
struct ModuleInsert<'a> {
    id: Uuid,
    plan_id: Uuid,
    user_id: &'a str,
    position: i32,
    title: &'a str,
    description: Option<&'a str>,
    estimated_minutes: i32,
    clamped: bool,
}

#[derive(Insertable)]
#[diesel(table_name = tasks)]
struct TaskInsert<'a> {
    id: Uuid,
    module_id: Uuid,
    user_id: &'a str,
    position: i32,
    title: &'a str,
    description: Option<&'a str>,
    estimated_minutes: i32,
    clamped: bool,
}

async fn latest_attempts(
    conn: &mut AsyncPgConnection,
    plan_ids: &[Uuid],
) -> Result<Vec<(Uuid, AttemptRecord)>, StoreError> {
    let rows: Vec<AttemptRow> = generation_attempts::table
        .filter(generation_attempts::plan_id.eq_any(plan_ids))
        .distinct_on(generation_attempts::plan_id)
        .order((
            generation_attempts::plan_id,
            generation_attempts::created_at.desc(),
            generation_attempts::id.desc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.plan_id, r.into_record()))
        .collect())
}

/// A page of the user's plans, newest first (`rows` of them).
/// The explicit `user_id` predicate lets PostgreSQL use `plans_user_id_idx` (row-level security's
/// `OR scope = 'system'` cannot be an index condition); RLS stays the safety net.
pub(crate) fn plans_page_query(
    user: &UserId,
    filter: PlanFilter,
    after: Option<Uuid>,
    rows: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "SELECT * FROM (SELECT {PLAN_COLUMNS} FROM plans p
                       WHERE p.user_id = $5 AND ($1::uuid IS NULL OR p.id < $1)) AS x
         WHERE $2::text IS NULL OR ({PLAN_STATUS_SQL}) = $2
         ORDER BY x.id DESC LIMIT $3"
    ))
    .into_boxed()
    .bind::<Nullable<SqlUuid>, _>(after)
    .bind::<Nullable<Text>, _>(filter.status.map(PlanStatus::as_str))
    .bind::<BigInt, _>(rows)
    .bind::<BigInt, _>(i64::from(AttemptCap::MAX))
    .bind::<Text, _>(user.as_str().to_owned())
}

async fn plan_row(conn: &mut AsyncPgConnection, id: Uuid) -> Result<PlanRow, StoreError> {
    Ok(diesel::sql_query(format!(
        "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.id = $1"
    ))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?)
}

/// The plan's newest attempt (a `capped` one included).
async fn latest_attempt(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<Option<AttemptRecord>, StoreError> {
    let latest: Option<AttemptRow> = generation_attempts::table
        .filter(generation_attempts::plan_id.eq(plan))
        .order((
            generation_attempts::created_at.desc(),
            generation_attempts::id.desc(),
        ))
        .select(AttemptRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(latest.map(AttemptRow::into_record))
}

/// Whether the plan has a generation job queued or running (read through the partial unique
/// index `jobs_one_active_generation_idx`, whose predicate this repeats).
async fn generation_live(conn: &mut AsyncPgConnection, plan: Uuid) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Live {
        #[diesel(sql_type = Bool)]
        live: bool,
    }
    let row: Live = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE plan_id = $1 AND job_type = 'plan_generation'
                        AND status IN ('pending', 'processing')) AS live",
    )
    .bind::<SqlUuid, _>(plan)
    .get_result(conn)
    .await?;
    Ok(row.live)
}

/// [`generation_live`] for a pending plan; a ready or failed one is not waiting for any.
async fn generating(conn: &mut AsyncPgConnection, plan: &PlanRecord) -> Result<bool, StoreError> {
    if plan.status == PlanStatus::Pending {
        generation_live(conn, plan.id.as_uuid()).await
    } else {
        Ok(false)
    }
}

async fn load_plan(conn: &mut AsyncPgConnection, id: Uuid) -> Result<PlanDetail, StoreError> {
    let row = plan_row(conn, id).await?;
    let latest = latest_attempt(conn, id).await?;
    let module_rows: Vec<ModuleRow> = modules::table
        .filter(modules::plan_id.eq(id))
        .order(modules::position)
        .select(ModuleRow::as_select())
        .load(conn)
        .await?;
    let module_ids: Vec<Uuid> = module_rows.iter().map(|m| m.id).collect();
    let task_rows: Vec<TaskRow> = tasks::table
        .filter(tasks::module_id.eq_any(&module_ids))
        .order((tasks::module_id, tasks::position))
        .select(TaskRow::as_select())
        .load(conn)
        .await?;
    let modules = module_rows
        .into_iter()
        .map(|m| ModuleRecord {
            id: m.id,
            order: to_u32(m.position),
            title: m.title,
            description: m.description,
            estimated_minutes: to_u32(m.estimated_minutes),
            tasks: task_rows
                .iter()
                .filter(|t| t.module_id == m.id)
                .map(|t| TaskRecord {
                    id: t.id,
                    order: to_u32(t.position),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    estimated_minutes: to_u32(t.estimated_minutes),
                })
                .collect(),
        })
        .collect();
    let plan = row.into_record(latest);
    let generating = generating(conn, &plan).await?;
    Ok(PlanDetail {
        plan,
        modules,
        generating,
    })
}

async fn numbered_attempts(conn: &mut AsyncPgConnection, plan: Uuid) -> Result<u32, StoreError> {
    let n: i64 = generation_attempts::table
        .filter(generation_attempts::plan_id.eq(plan))
        .filter(generation_attempts::number.is_not_null())
        .count()
        .get_result(conn)
        .await?;
    Ok(to_u32(n))
}

async fn insert_attempt(
    conn: &mut AsyncPgConnection,
    user: &str,
    plan: Uuid,
    job: Option<Uuid>,
    number: Option<u32>,
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
    };
    let insert = diesel::insert_into(generation_attempts::table).values(row);
    let row: AttemptRow = if number.is_some() {
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
            .filter_target(ga::number.is_null())
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

async fn replace_content(
    conn: &mut AsyncPgConnection,
    user: &str,
    plan: Uuid,
    content: &NormalizedPlan,
) -> Result<(), StoreError> {
    diesel::delete(modules::table.filter(modules::plan_id.eq(plan)))
        .execute(conn)
        .await?;
    let mut module_rows = Vec::with_capacity(content.modules.len());
    let mut task_rows = Vec::new();
    for m in &content.modules {
        let module_id = Uuid::now_v7();
        module_rows.push(ModuleInsert {
            id: module_id,
            plan_id: plan,
            user_id: user,
            position: to_i32(m.order),
            title: &m.title,
            description: m.description.as_deref(),
            estimated_minutes: to_i32(m.estimated_minutes),
            clamped: m.clamped,
        });
        for t in &m.tasks {
            task_rows.push(TaskInsert {
                id: Uuid::now_v7(),
                module_id,
                user_id: user,
                position: to_i32(t.order),
                title: &t.title,
                description: t.description.as_deref(),
                estimated_minutes: to_i32(t.estimated_minutes),
                clamped: t.clamped,
            });
        }
    }
    diesel::insert_into(modules::table)
        .values(&module_rows)
        .execute(conn)
        .await?;
    // PostgreSQL binds at most 65,535 parameters per statement: 8 per task.
    for chunk in task_rows.chunks(4_000) {
        diesel::insert_into(tasks::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    diesel::update(plans::table.filter(plans::id.eq(plan)))
        .set(plans::updated_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

impl crate::ports::PlanStore for Database {
    #[tracing::instrument(skip_all, fields(user.id = %actor.user))]
    async fn create_plan(
        &self,
        actor: &Actor,
        plan: &NewPlan,
        max_attempts: u32,
        limit: RateLimit,
    ) -> Result<(PlanDetail, JobRecord), StoreError> {
        let actor = actor.clone();
        let plan = plan.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                let at =
                    lock_rate_window(conn, &actor.user, JobType::PlanGeneration, limit).await?;
                let id = PlanId::new().as_uuid();
                let (created_at, updated_at): (DateTime<Utc>, DateTime<Utc>) =
                    diesel::insert_into(plans::table)
                        .values(PlanInsert {
                            id,
                            user_id: actor.user.as_str(),
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
                        })
                        .returning((plans::created_at, plans::updated_at))
                        .get_result(conn)
                        .await?;
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
                        latest_attempt: None,
                        created_at,
                        updated_at,
                    },
                    modules: Vec::new(),
                    generating: true,
                };
                Ok((detail, job))
            })
        })
        .await
    }

    async fn plan(&self, user: &UserId, id: PlanId) -> Result<PlanDetail, StoreError> {
        self.as_user(user, move |conn| Box::pin(load_plan(conn, id.as_uuid())))
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
                let items = rows
                    .into_iter()
                    .map(|r| {
                        let pos = latest.iter().position(|(plan, _)| *plan == r.id);
                        let attempt = pos.map(|p| latest.swap_remove(p).1);
                        r.into_record(attempt)
                    })
                    .collect();
                Ok(Page { items, next_cursor })
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
        max_attempts: u32,
        limit: RateLimit,
    ) -> Result<Regeneration, StoreError> {
        let actor = actor.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
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
                let used = numbered_attempts(conn, id.as_uuid()).await?;
                if AttemptCap::next_attempt(used).is_none() {
                    // Refused without a provider call, but counted: a client looping on a capped
                    // plan is rate-limited like one creating jobs.
                    let at =
                        lock_rate_window(conn, &actor.user, JobType::PlanGeneration, limit).await?;
                    count_without_job(conn, &actor.user, JobType::PlanGeneration, limit, at)
                        .await?;
                    let attempt = insert_attempt(
                        conn,
                        actor.user.as_str(),
                        id.as_uuid(),
                        None,
                        None,
                        &NewAttempt {
                            classification: Some(FailureClass::Capped),
                            error: Some(FailureClass::Capped.user_message().to_owned()),
                            ..NewAttempt::default()
                        },
                    )
                    .await?;
                    return Ok(Regeneration::Capped(attempt));
                }
                let at =
                    lock_rate_window(conn, &actor.user, JobType::PlanGeneration, limit).await?;
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
                Ok(Regeneration::Queued(job))
            })
        })
        .await
    }

    async fn plan_stream(&self, user: &UserId, id: PlanId) -> Result<PlanStreamState, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let plan = id.as_uuid();
                let row = plan_row(conn, plan).await?;
                // Every attempt at once (at most 3 numbered and one `capped` row), oldest first:
                // the last is the plan's latest attempt, the numbered ones are the stream's.
                let mut attempts: Vec<AttemptRecord> = generation_attempts::table
                    .filter(generation_attempts::plan_id.eq(plan))
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
                let previews = crate::previews::load(conn, plan, in_flight).await?;
                let plan = row.into_record(latest);
                let generating = generating(conn, &plan).await?;
                Ok(PlanStreamState {
                    plan,
                    attempts,
                    previews,
                    generating,
                })
            })
        })
        .await
    }
}

impl crate::ports::GenerationStore for Database {
    async fn publish_preview(
        &self,
        lease: Lease,
        plan: PlanId,
        attempt_number: u32,
        index: usize,
        module: &syllabus_domain::plan::NormalizedModule,
    ) -> Result<(), StoreError> {
        // Batched with the process's other previews (crate::previews::Publisher).
        self.previews()
            .publish(crate::previews::NewPreview {
                job: lease.job.as_uuid(),
                lease: lease.token,
                plan: plan.as_uuid(),
                attempt_number: to_i32(attempt_number),
                position: i32::try_from(index).unwrap_or(i32::MAX),
                module: PreviewRecord::module_json(module),
            })
            .await
    }

    async fn generation_input(
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
                crate::previews::clear(conn, id.as_uuid()).await?;
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
    ) -> Result<AttemptRecord, StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // The plan before the job (see crate::locks): a delete in flight waits or wins.
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                crate::jobs::end_job(conn, lease, &end).await?;
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
                    &attempt,
                )
                .await?;
                // The attempt has ended: its previews (and any a stopped run left) go with it.
                crate::previews::clear(conn, plan.as_uuid()).await?;
                if let Some(content) = &content {
                    replace_content(conn, &user_id, plan.as_uuid(), content).await?;
                }
                Ok(record)
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
