//! Row locks, taken in ONE order everywhere: **plan → flashcard → job**.
//!
//! Deleting a plan locks the plan row and then, by its cascades, its flashcards and jobs; so
//! every write that touches a plan's content and a job takes the plan first, then the card, and
//! only then ends the job. Two transactions that follow this order can wait for each other but
//! never deadlock.

use diesel::sql_types::{Integer, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreError;

/// How strongly a plan row is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanLock {
    /// Enqueueing against the plan: waits for a delete in flight (and then finds nothing).
    KeyShare,
    /// Writing the plan's content or finishing its job: one writer per plan at a time, and no
    /// delete while it runs.
    Write,
    /// Deleting the plan.
    Delete,
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = Integer)]
    _one: i32,
}

/// Locks the plan row; [`StoreError::NotFound`] when it does not exist (or was just deleted).
pub(crate) async fn lock_plan(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    mode: PlanLock,
) -> Result<(), StoreError> {
    let sql = match mode {
        PlanLock::KeyShare => "SELECT 1 AS _one FROM plans WHERE id = $1 FOR KEY SHARE",
        PlanLock::Write => "SELECT 1 AS _one FROM plans WHERE id = $1 FOR NO KEY UPDATE",
        PlanLock::Delete => "SELECT 1 AS _one FROM plans WHERE id = $1 FOR UPDATE",
    };
    let _: One = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(plan)
        .get_result(conn)
        .await?;
    Ok(())
}

/// Locks a flashcard row (after its plan); returns the card's plan.
pub(crate) async fn lock_card(
    conn: &mut AsyncPgConnection,
    card: Uuid,
    mode: PlanLock,
) -> Result<Uuid, StoreError> {
    let plan = card_plan(conn, card).await?;
    lock_plan(conn, plan, mode).await?;
    let sql = match mode {
        PlanLock::KeyShare => "SELECT 1 AS _one FROM flashcards WHERE id = $1 FOR KEY SHARE",
        PlanLock::Write | PlanLock::Delete => {
            "SELECT 1 AS _one FROM flashcards WHERE id = $1 FOR UPDATE"
        }
    };
    let _: One = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(card)
        .get_result(conn)
        .await?;
    Ok(plan)
}

/// The plan of a card (`NotFound` when the caller cannot see the card).
async fn card_plan(conn: &mut AsyncPgConnection, card: Uuid) -> Result<Uuid, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct PlanOf {
        #[diesel(sql_type = SqlUuid)]
        plan_id: Uuid,
    }
    let plan: PlanOf = diesel::sql_query("SELECT plan_id FROM flashcards WHERE id = $1")
        .bind::<SqlUuid, _>(card)
        .get_result(conn)
        .await?;
    Ok(plan.plan_id)
}

/// Locks a flashcard row to review it: its plan `FOR KEY SHARE` (no delete while the review
/// writes; content jobs still run), then the card `FOR NO KEY UPDATE` (one review of a card at a
/// time; a job writing the card's distractors waits). Returns the card's plan.
pub(crate) async fn lock_card_for_review(
    conn: &mut AsyncPgConnection,
    card: Uuid,
) -> Result<Uuid, StoreError> {
    let plan = card_plan(conn, card).await?;
    lock_plan(conn, plan, PlanLock::KeyShare).await?;
    let _: One =
        diesel::sql_query("SELECT 1 AS _one FROM flashcards WHERE id = $1 FOR NO KEY UPDATE")
            .bind::<SqlUuid, _>(card)
            .get_result(conn)
            .await?;
    Ok(plan)
}
