//! Spaced review's statements (issue #24): a card's state and log, the due list and count, the
//! user's retention, and reading cards with their distractors by id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{
    BigInt, Float, Integer, Jsonb, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use syllabus_domain::input::StringEnum as _;
use syllabus_domain::review::{CardMemory, NextDue, Rating, Retention, Reviewed, Scheduled};
use syllabus_domain::{FlashcardId, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{DueCursor, FlashcardRecord, ReviewRecord};

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `next` as the log stores it.
pub(crate) fn next_json(next: &NextDue) -> Value {
    let one = |s: Scheduled| json!({"due_at": s.due_at, "interval_days": s.interval_days});
    json!({
        "again": one(next.again),
        "hard": one(next.hard),
        "good": one(next.good),
        "easy": one(next.easy),
    })
}

fn next_from_json(v: &Value) -> Result<NextDue, StoreError> {
    let one = |r: Rating| -> Result<Scheduled, StoreError> {
        let s = &v[r.as_str()];
        let due_at = s["due_at"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        let days = s["interval_days"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok());
        match (due_at, days) {
            (Some(due_at), Some(interval_days)) => Ok(Scheduled {
                due_at,
                interval_days,
            }),
            _ => Err(StoreError::Unexpected(
                "a review log's next is malformed".into(),
            )),
        }
    };
    Ok(NextDue {
        again: one(Rating::Again)?,
        hard: one(Rating::Hard)?,
        good: one(Rating::Good)?,
        easy: one(Rating::Easy)?,
    })
}

#[derive(QueryableByName)]
struct LogRow {
    #[diesel(sql_type = Text)]
    rating: String,
    #[diesel(sql_type = Timestamptz)]
    due_after: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    interval_days: i32,
    #[diesel(sql_type = Integer)]
    reps: i32,
    #[diesel(sql_type = Integer)]
    lapses: i32,
    #[diesel(sql_type = Float)]
    stability: f32,
    #[diesel(sql_type = Float)]
    difficulty: f32,
    #[diesel(sql_type = Jsonb)]
    next: Value,
}

/// The answer of the card's review sent with `review_id`, when there was one.
pub(crate) async fn logged(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    card: FlashcardId,
    review_id: &str,
) -> Result<Option<ReviewRecord>, StoreError> {
    let row: Option<LogRow> = diesel::sql_query(
        "SELECT rating, due_after, interval_days, reps, lapses, stability, difficulty, next
         FROM card_review_log WHERE user_id = $1 AND flashcard_id = $2 AND review_id = $3",
    )
    .bind::<Text, _>(user.as_str())
    .bind::<SqlUuid, _>(card.as_uuid())
    .bind::<Text, _>(review_id)
    .get_result(conn)
    .await
    .optional()?;
    row.map(|r| {
        Ok(ReviewRecord {
            flashcard_id: card,
            rating: Rating::from_wire(&r.rating)
                .ok_or_else(|| StoreError::Unexpected(format!("a logged rating {:?}", r.rating)))?,
            due_at: r.due_after,
            interval_days: count(r.interval_days),
            reps: count(r.reps),
            lapses: count(r.lapses),
            stability: r.stability,
            difficulty: r.difficulty,
            next: next_from_json(&r.next)?,
        })
    })
    .transpose()
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = Float)]
    stability: f32,
    #[diesel(sql_type = Float)]
    difficulty: f32,
    #[diesel(sql_type = Timestamptz)]
    due_at: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    reps: i32,
    #[diesel(sql_type = Integer)]
    lapses: i32,
    #[diesel(sql_type = Timestamptz)]
    last_review_at: DateTime<Utc>,
}

/// The card's state, `None` before its first review.
pub(crate) async fn card_state(
    conn: &mut AsyncPgConnection,
    card: FlashcardId,
) -> Result<Option<CardMemory>, StoreError> {
    let row: Option<StateRow> = diesel::sql_query(
        "SELECT stability, difficulty, due_at, reps, lapses, last_review_at
         FROM card_reviews_state WHERE flashcard_id = $1",
    )
    .bind::<SqlUuid, _>(card.as_uuid())
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| CardMemory {
        stability: r.stability,
        difficulty: r.difficulty,
        due_at: r.due_at,
        reps: count(r.reps),
        lapses: count(r.lapses),
        last_review_at: r.last_review_at,
    }))
}

#[derive(QueryableByName)]
struct RetentionRow {
    #[diesel(sql_type = Float)]
    desired_retention: f32,
}

/// The user's desired retention (the default when never set).
pub(crate) async fn retention(
    conn: &mut AsyncPgConnection,
    user: &UserId,
) -> Result<Retention, StoreError> {
    let row: Option<RetentionRow> =
        diesel::sql_query("SELECT desired_retention FROM user_settings WHERE user_id = $1")
            .bind::<Text, _>(user.as_str())
            .get_result(conn)
            .await
            .optional()?;
    Ok(row.map_or_else(Retention::default, |r| {
        Retention::from_stored(r.desired_retention)
    }))
}

/// Sets the user's desired retention (the user row exists).
pub(crate) async fn set_retention(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    retention: Retention,
) -> Result<f32, StoreError> {
    let row: RetentionRow = diesel::sql_query(
        "INSERT INTO user_settings (user_id, desired_retention) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE
             SET desired_retention = EXCLUDED.desired_retention, updated_at = now()
         RETURNING desired_retention",
    )
    .bind::<Text, _>(user.as_str())
    .bind::<Float, _>(retention.get())
    .get_result(conn)
    .await?;
    Ok(row.desired_retention)
}

/// Writes a review: the card's new state and its log row.
pub(crate) async fn record_review(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
    card: FlashcardId,
    (rating, review_id): (Rating, Option<&str>),
    due_before: Option<DateTime<Utc>>,
    done: &Reviewed,
) -> Result<(), StoreError> {
    let m = &done.memory;
    diesel::sql_query(
        "INSERT INTO card_reviews_state
             (flashcard_id, plan_id, user_id, stability, difficulty, due_at, reps, lapses,
              last_review_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (flashcard_id) DO UPDATE SET
             stability = EXCLUDED.stability, difficulty = EXCLUDED.difficulty,
             due_at = EXCLUDED.due_at, reps = EXCLUDED.reps, lapses = EXCLUDED.lapses,
             last_review_at = EXCLUDED.last_review_at",
    )
    .bind::<SqlUuid, _>(card.as_uuid())
    .bind::<SqlUuid, _>(plan)
    .bind::<Text, _>(user.as_str())
    .bind::<Float, _>(m.stability)
    .bind::<Float, _>(m.difficulty)
    .bind::<Timestamptz, _>(m.due_at)
    .bind::<Integer, _>(int(m.reps))
    .bind::<Integer, _>(int(m.lapses))
    .bind::<Timestamptz, _>(m.last_review_at)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO card_review_log
             (id, user_id, flashcard_id, review_id, rating, reviewed_at, due_before, due_after,
              stability, difficulty, interval_days, reps, lapses, next)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(user.as_str())
    .bind::<SqlUuid, _>(card.as_uuid())
    .bind::<Nullable<Text>, _>(review_id)
    .bind::<Text, _>(rating.as_str())
    .bind::<Timestamptz, _>(m.last_review_at)
    .bind::<Nullable<Timestamptz>, _>(due_before)
    .bind::<Timestamptz, _>(m.due_at)
    .bind::<Float, _>(m.stability)
    .bind::<Float, _>(m.difficulty)
    .bind::<Integer, _>(int(done.interval_days))
    .bind::<Integer, _>(int(m.reps))
    .bind::<Integer, _>(int(m.lapses))
    .bind::<Jsonb, _>(next_json(&done.next))
    .execute(conn)
    .await?;
    Ok(())
}

/// Which rows the due list reads: the user's, or one plan's (`$1` user, `$2` plan).
fn scope(plan: bool, alias: &str) -> String {
    if plan {
        format!("{alias}.plan_id = $2 AND {alias}.user_id = $1")
    } else {
        format!("{alias}.user_id = $1 AND $2::uuid IS NULL")
    }
}

/// A page of due cards' ids and due dates (`rows` of them): reviewed cards due by `until` from
/// `card_reviews_state`'s due index, merged with never-reviewed cards (due from their creation)
/// from the flashcards' partial index over cards not `reviewed`, each half limited before the
/// merge: a page reads about a page of rows. The explicit `user_id` (or
/// `plan_id`) predicate is what lets PostgreSQL use the indexes; RLS stays the safety net.
/// Binds: `$1` user, `$2` plan, `$3` until, `$4`/`$5` the cursor, `$6` rows.
pub(crate) fn due_page_query(
    user: &UserId,
    plan: Option<PlanId>,
    after: Option<DueCursor>,
    until: DateTime<Utc>,
    rows: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (s, f) = (scope(plan.is_some(), "s"), scope(plan.is_some(), "f"));
    let (cs, cf) = if after.is_some() {
        (
            "AND (s.due_at, s.flashcard_id) > ($4, $5)",
            "AND (f.created_at, f.id) > ($4, $5)",
        )
    } else {
        (
            "AND $4::timestamptz IS NULL AND $5::uuid IS NULL",
            "AND $4::timestamptz IS NULL",
        )
    };
    diesel::sql_query(format!(
        "SELECT id, due_at FROM (
             (SELECT s.flashcard_id AS id, s.due_at FROM card_reviews_state s
              WHERE {s} AND s.due_at <= $3 {cs}
              ORDER BY s.due_at, s.flashcard_id LIMIT $6)
             UNION ALL
             (SELECT f.id, f.created_at AS due_at FROM flashcards f
              WHERE {f} AND NOT f.reviewed AND f.created_at <= $3 {cf}
              ORDER BY f.created_at, f.id LIMIT $6)
         ) AS d ORDER BY due_at, id LIMIT $6"
    ))
    .into_boxed()
    .bind::<Text, _>(user.as_str().to_owned())
    .bind::<Nullable<SqlUuid>, _>(plan.map(|p| p.as_uuid()))
    .bind::<Timestamptz, _>(until)
    .bind::<Nullable<Timestamptz>, _>(after.map(|c| c.due_at))
    .bind::<Nullable<SqlUuid>, _>(after.map(|c| c.id))
    .bind::<BigInt, _>(rows)
}

/// How many cards are due by `until` (binds as [`due_page_query`]'s first three).
pub(crate) fn due_count_query(
    user: &UserId,
    plan: Option<PlanId>,
    until: DateTime<Utc>,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (s, f) = (scope(plan.is_some(), "s"), scope(plan.is_some(), "f"));
    diesel::sql_query(format!(
        "SELECT (SELECT count(*) FROM card_reviews_state s WHERE {s} AND s.due_at <= $3)
              + (SELECT count(*) FROM flashcards f
                 WHERE {f} AND NOT f.reviewed AND f.created_at <= $3) AS n"
    ))
    .into_boxed()
    .bind::<Text, _>(user.as_str().to_owned())
    .bind::<Nullable<SqlUuid>, _>(plan.map(|p| p.as_uuid()))
    .bind::<Timestamptz, _>(until)
}

/// A row of [`due_page_query`].
#[derive(QueryableByName)]
pub(crate) struct DueRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) due_at: DateTime<Utc>,
}

/// The row of [`due_count_query`].
#[derive(QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

#[derive(QueryableByName)]
struct CardRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    plan_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    module_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    question: String,
    #[diesel(sql_type = Text)]
    answer: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Integer>)]
    module_position: Option<i32>,
}

#[derive(QueryableByName)]
struct WrongRow {
    #[diesel(sql_type = SqlUuid)]
    flashcard_id: Uuid,
    #[diesel(sql_type = SmallInt)]
    _position: i16,
    #[diesel(sql_type = Text)]
    text: String,
}

/// Cards with their distractors and their module's position: those with these ids (`plan`
/// `None`), or a whole plan's oldest first; by primary key or the plan's index.
pub(crate) async fn cards(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    plan: Option<PlanId>,
) -> Result<Vec<(FlashcardRecord, Option<u32>)>, StoreError> {
    let which = if plan.is_some() {
        "f.plan_id = $2"
    } else {
        "f.id = ANY($1) AND $2::uuid IS NULL"
    };
    let rows: Vec<CardRow> = diesel::sql_query(format!(
        "SELECT f.id, f.plan_id, f.module_id, f.question, f.answer, f.created_at,
                m.position AS module_position
         FROM flashcards f LEFT JOIN modules m ON m.id = f.module_id
         WHERE {which}
         ORDER BY f.created_at, f.id"
    ))
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids.to_vec())
    .bind::<Nullable<SqlUuid>, _>(plan.map(|p| p.as_uuid()))
    .load(conn)
    .await?;
    let found: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let wrong: Vec<WrongRow> = diesel::sql_query(
        "SELECT flashcard_id, position AS _position, text FROM distractors
         WHERE flashcard_id = ANY($1) ORDER BY flashcard_id, position",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(found)
    .load(conn)
    .await?;
    let mut by_card: HashMap<Uuid, Vec<String>> = HashMap::new();
    for w in wrong {
        by_card.entry(w.flashcard_id).or_default().push(w.text);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                FlashcardRecord {
                    id: FlashcardId::from_uuid(r.id),
                    plan_id: PlanId::from_uuid(r.plan_id),
                    module_id: r.module_id,
                    question: r.question,
                    answer: r.answer,
                    distractors: by_card.remove(&r.id).unwrap_or_default(),
                    created_at: r.created_at,
                },
                r.module_position.and_then(|p| u32::try_from(p).ok()),
            )
        })
        .collect())
}
