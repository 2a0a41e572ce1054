//! [`ContentJobStore`](crate::ports::ContentJobStore) on [`Database`]: what the flashcards,
//! distractors and skill-tree runs read, and their fenced writes. A retried or rescued job
//! replaces only what it wrote itself.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use syllabus_domain::content::{Flashcard, SkillNode, SkillTree};
use syllabus_domain::{FlashcardId, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_card, lock_plan};
use crate::pool::Database;
use crate::records::{CardContext, ContentContext, JobEnd, Lease, ProviderCall};
use crate::rows::content::node_inserts;
use crate::schema::{distractors, flashcards, skill_nodes, skill_trees};
use crate::sql::job_writes::end_job;
use crate::sql::plans::{module_titles, plan_topic};
use crate::sql::skill_previews::{self, NewSkill};

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
        call: Option<ProviderCall>,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                end_job(conn, lease, &end, call.as_ref()).await?;
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
        call: Option<ProviderCall>,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Concurrent jobs for one card take turns here, so the later one replaces the
                // earlier one's committed rows instead of colliding with them.
                lock_card(conn, card.as_uuid(), PlanLock::Write).await?;
                end_job(conn, lease, &end, call.as_ref()).await?;
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
        call: Option<ProviderCall>,
    ) -> Result<(), StoreError> {
        let user_id = user.as_str().to_owned();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Concurrent tree jobs for one plan take turns here (see finish_distractors).
                lock_plan(conn, plan.as_uuid(), PlanLock::Write).await?;
                end_job(conn, lease, &end, call.as_ref()).await?;
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
                // The saved tree replaces what was streamed (issue #24).
                skill_previews::clear(conn, plan.as_uuid(), lease.job.as_uuid()).await?;
                let mut rows = Vec::new();
                node_inserts(&tree.roots, None, tree_id, &user_id, &mut rows);
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

    async fn publish_skill(
        &self,
        lease: Lease,
        plan: PlanId,
        index: u32,
        skill: &SkillNode,
    ) -> Result<(), StoreError> {
        let new = NewSkill {
            job: lease.job.as_uuid(),
            lease: lease.token,
            plan: plan.as_uuid(),
            position: i32::try_from(index).unwrap_or(i32::MAX),
            skill: serde_json::to_value(skill)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        };
        self.as_system(move |conn| Box::pin(skill_previews::write(conn, new)))
            .await
    }
}
