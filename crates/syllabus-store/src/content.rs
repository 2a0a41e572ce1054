//! Flashcards, distractors and skill trees: enqueueing their jobs (ownership and state checked
//! in the same transaction as the rate limit), reading them, and the handlers' fenced writes. A
//! retried or rescued job replaces only what it wrote itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::content::{Flashcard, SkillNode, SkillTree};
use syllabus_domain::{FlashcardId, JobId, JobPayload, JobStatus, JobType, PlanId, UserId};
use uuid::Uuid;

use crate::jobs::{insert_job, lock_rate_window};
use crate::locks::{PlanLock, lock_card, lock_plan};
use crate::records::{
    Actor, CardContext, ContentContext, FlashcardRecord, JobEnd, JobRecord, Lease, NewJob,
    RateLimit, SkillNodeRecord, SkillTreeRecord,
};
use crate::schema::{distractors, flashcards, jobs, modules, plans, skill_nodes, skill_trees};
use crate::{Database, StoreError};

async fn plan_topic(conn: &mut AsyncPgConnection, plan: PlanId) -> Result<String, StoreError> {
    Ok(plans::table
        .filter(plans::id.eq(plan.as_uuid()))
        .select(plans::topic)
        .first(conn)
        .await?)
}

async fn module_titles(
    conn: &mut AsyncPgConnection,
    plan: PlanId,
    module: Option<Uuid>,
) -> Result<Vec<String>, StoreError> {
    let mut q = modules::table
        .filter(modules::plan_id.eq(plan.as_uuid()))
        .order(modules::position)
        .select(modules::title)
        .into_boxed();
    if let Some(m) = module {
        q = q.filter(modules::id.eq(m));
    }
    Ok(q.load(conn).await?)
}

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
        JobPayload::Distractors { flashcard_id } => {
            lock_card(conn, flashcard_id.as_uuid(), PlanLock::KeyShare)
                .await
                .map(drop)
        }
    }
}

/// A skill node as read: id, parent, depth, path, title, description.
type NodeRow = (Uuid, Option<Uuid>, i16, String, String, Option<String>);

fn node_records(nodes: &[NodeRow], parent: Option<Uuid>) -> Vec<SkillNodeRecord> {
    nodes
        .iter()
        .filter(|n| n.1 == parent)
        .map(|(id, _, depth, path, title, description)| SkillNodeRecord {
            id: *id,
            title: title.clone(),
            description: description.clone(),
            depth: u32::try_from(*depth).unwrap_or(0),
            path: path.clone(),
            children: node_records(nodes, Some(*id)),
        })
        .collect()
}

fn path_key(path: &str) -> Vec<u32> {
    path.split('.').filter_map(|p| p.parse().ok()).collect()
}

#[derive(Insertable)]
#[diesel(table_name = skill_nodes)]
struct NodeInsert<'a> {
    id: Uuid,
    tree_id: Uuid,
    parent_id: Option<Uuid>,
    user_id: &'a str,
    depth: i16,
    path: &'a str,
    title: &'a str,
    description: Option<&'a str>,
}

fn flatten<'a>(
    nodes: &'a [SkillNode],
    parent: Option<Uuid>,
    tree: Uuid,
    user: &'a str,
    out: &mut Vec<NodeInsert<'a>>,
) {
    for n in nodes {
        let id = Uuid::now_v7();
        out.push(NodeInsert {
            id,
            tree_id: tree,
            parent_id: parent,
            user_id: user,
            depth: i16::try_from(n.depth).unwrap_or(i16::MAX),
            path: &n.path,
            title: &n.title,
            description: n.description.as_deref(),
        });
        flatten(&n.children, Some(id), tree, user, out);
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
        let actor = actor.clone();
        let payload = payload.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                check_subject(conn, &payload).await?;
                let at = lock_rate_window(conn, &actor.user, payload.job_type(), limit).await?;
                insert_job(
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
                .await
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
    ) -> Result<JobRecord, StoreError> {
        let actor = actor.clone();
        self.as_user(&actor.user.clone(), move |conn| {
            Box::pin(async move {
                let (job_type, status, payload, priority): (
                    String,
                    String,
                    serde_json::Value,
                    i16,
                ) = jobs::table
                    .filter(jobs::id.eq(id.as_uuid()))
                    .select((jobs::job_type, jobs::status, jobs::payload, jobs::priority))
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
                let at = lock_rate_window(conn, &actor.user, job_type, limit).await?;
                insert_job(
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
                .await
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

impl crate::ports::ContentJobStore for Database {
    async fn content_context(
        &self,
        user: &UserId,
        plan: PlanId,
        module: Option<Uuid>,
    ) -> Result<ContentContext, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                Ok(ContentContext {
                    topic: plan_topic(conn, plan).await?,
                    module_titles: module_titles(conn, plan, module).await?,
                })
            })
        })
        .await
    }

    async fn card_context(
        &self,
        user: &UserId,
        card: FlashcardId,
    ) -> Result<CardContext, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let (plan, question, answer): (Uuid, String, String) = flashcards::table
                    .filter(flashcards::id.eq(card.as_uuid()))
                    .select((
                        flashcards::plan_id,
                        flashcards::question,
                        flashcards::answer,
                    ))
                    .first(conn)
                    .await?;
                Ok(CardContext {
                    topic: plan_topic(conn, PlanId::from_uuid(plan)).await?,
                    question,
                    answer,
                })
            })
        })
        .await
    }

    async fn finish_flashcards(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        module: Option<Uuid>,
        cards: Vec<(FlashcardId, Flashcard)>,
        end: JobEnd,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                crate::jobs::end_job(conn, lease, &end).await?;
                // A rescued or retried run replaces only its own job's earlier cards.
                diesel::delete(
                    flashcards::table.filter(flashcards::job_id.eq(lease.job.as_uuid())),
                )
                .execute(conn)
                .await?;
                let rows: Vec<_> = cards
                    .iter()
                    .map(|(id, c)| {
                        (
                            flashcards::id.eq(id.as_uuid()),
                            flashcards::plan_id.eq(plan.as_uuid()),
                            flashcards::module_id.eq(module),
                            flashcards::user_id.eq(&user_id),
                            flashcards::job_id.eq(lease.job.as_uuid()),
                            flashcards::question.eq(&c.question),
                            flashcards::answer.eq(&c.answer),
                        )
                    })
                    .collect();
                diesel::insert_into(flashcards::table)
                    .values(&rows)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn finish_distractors(
        &self,
        lease: Lease,
        user: &UserId,
        card: FlashcardId,
        wrong: [String; 3],
        end: JobEnd,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Concurrent jobs for one card take turns here, so the later one replaces the
                // earlier one's committed rows instead of colliding with them.
                lock_card(conn, card.as_uuid(), PlanLock::Write).await?;
                crate::jobs::end_job(conn, lease, &end).await?;
                diesel::delete(
                    distractors::table.filter(distractors::flashcard_id.eq(card.as_uuid())),
                )
                .execute(conn)
                .await?;
                let rows: Vec<_> = wrong
                    .iter()
                    .zip(0_i16..)
                    .map(|(text, position)| {
                        (
                            distractors::id.eq(Uuid::now_v7()),
                            distractors::flashcard_id.eq(card.as_uuid()),
                            distractors::user_id.eq(&user_id),
                            distractors::position.eq(position),
                            distractors::text.eq(text),
                        )
                    })
                    .collect();
                diesel::insert_into(distractors::table)
                    .values(&rows)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn finish_skill_tree(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        tree: SkillTree,
        end: JobEnd,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Concurrent tree jobs for one plan take turns here (see finish_distractors).
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                crate::jobs::end_job(conn, lease, &end).await?;
                diesel::delete(skill_trees::table.filter(skill_trees::plan_id.eq(plan.as_uuid())))
                    .execute(conn)
                    .await?;
                let tree_id = Uuid::now_v7();
                diesel::insert_into(skill_trees::table)
                    .values((
                        skill_trees::id.eq(tree_id),
                        skill_trees::plan_id.eq(plan.as_uuid()),
                        skill_trees::user_id.eq(&user_id),
                        skill_trees::job_id.eq(lease.job.as_uuid()),
                        skill_trees::node_count
                            .eq(i32::try_from(tree.node_count).unwrap_or(i32::MAX)),
                        skill_trees::depth.eq(i16::try_from(tree.depth).unwrap_or(3)),
                    ))
                    .execute(conn)
                    .await?;
                let mut rows = Vec::new();
                flatten(&tree.roots, None, tree_id, &user_id, &mut rows);
                // Parents before children: rows are in depth-first order.
                for chunk in rows.chunks(5_000) {
                    diesel::insert_into(skill_nodes::table)
                        .values(chunk)
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }
}
