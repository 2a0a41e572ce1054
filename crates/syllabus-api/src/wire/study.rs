//! Spaced review (issue #24) as the API shows it: a review's body and answer, the due list and
//! its count, the learner's settings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use syllabus_domain::review::{
    MAX_INTERVAL_DAYS, MAX_RETENTION, MIN_RETENTION, NextDue, REVIEW_ID_MAX, Rating, Scheduled,
};
use syllabus_store::records::{ReviewRecord, SettingsRecord};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use uuid::Uuid;

use super::content::DueCardView;
use super::fields::{self, or_null};

/// The cursors the due list issues: `d`, the last item's due date (microseconds since the
/// epoch, 16 hex digits, the first at most 6: within the dates a cursor can hold) and its card's
/// id (32 hex digits).
pub(crate) const DUE_CURSOR_ISSUED: &str = "^d[0-6][0-9a-f]{47}$";
/// The cursors it accepts: none (empty) or one of that form, in either case of hex digits.
pub(crate) const DUE_CURSOR_ACCEPTED: &str = "^(d[0-6][0-9a-fA-F]{47})?$";
/// The review ids accepted: 1–100 visible ASCII characters.
pub(crate) const REVIEW_ID_PATTERN: &str = "^[!-~]{1,100}$";

fn interval() -> Object {
    fields::integer(Some(1), Some(MAX_INTERVAL_DAYS.into())).build()
}

fn retention() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(MIN_RETENTION))
        .maximum(Some(MAX_RETENTION))
        .build()
}

fn review_id() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(REVIEW_ID_MAX))
        .pattern(Some(REVIEW_ID_PATTERN))
        .build()
}

fn due_cursor() -> RefOr<Schema> {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(DUE_CURSOR_ISSUED)),
    )
    .into()
}

/// What `POST /api/v1/flashcards/{id}/reviews` takes.
#[derive(Deserialize, ToSchema)]
#[schema(as = ReviewCreate)]
pub(crate) struct ReviewRequest {
    /// How well the learner knew the card.
    #[schema(schema_with = fields::names::<Rating>)]
    pub rating: String,
    /// The client's id of this review: sent again, the first answer comes back and nothing is
    /// recorded twice.
    #[serde(default)]
    #[schema(schema_with = review_id)]
    pub review_id: Option<String>,
}

/// What a rating gives: a due date and the interval in whole days.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewOutcome)]
pub struct OutcomeView {
    due_at: DateTime<Utc>,
    #[schema(schema_with = interval)]
    interval_days: u32,
}

impl From<Scheduled> for OutcomeView {
    fn from(s: Scheduled) -> Self {
        Self {
            due_at: s.due_at,
            interval_days: s.interval_days,
        }
    }
}

/// What each rating would have given from the card's state before this review.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewChoices)]
pub struct ChoicesView {
    again: OutcomeView,
    hard: OutcomeView,
    good: OutcomeView,
    easy: OutcomeView,
}

impl From<NextDue> for ChoicesView {
    fn from(n: NextDue) -> Self {
        Self {
            again: n.again.into(),
            hard: n.hard.into(),
            good: n.good.into(),
            easy: n.easy.into(),
        }
    }
}

/// A recorded review: the card's new schedule and memory state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Review)]
pub struct ReviewView {
    flashcard_id: Uuid,
    /// The rating recorded (sent again with its `review_id`: the first review's, the same).
    #[schema(schema_with = fields::names::<Rating>)]
    rating: &'static str,
    /// When the card is next due.
    due_at: DateTime<Utc>,
    /// Whole days from the review to `due_at`.
    #[schema(schema_with = interval)]
    interval_days: u32,
    /// Reviews of the card so far.
    #[schema(minimum = 1)]
    reps: u32,
    /// `again` answers after the card's first review.
    lapses: u32,
    /// FSRS stability (days) after the review.
    stability: f32,
    /// FSRS difficulty (1–10) after the review.
    #[schema(minimum = 1, maximum = 10)]
    difficulty: f32,
    /// What each rating would have given from the state before this review (the choices the
    /// learner had); `next.<rating>` of the rating sent is this answer's `due_at`.
    next: ChoicesView,
}

impl From<ReviewRecord> for ReviewView {
    fn from(r: ReviewRecord) -> Self {
        Self {
            flashcard_id: r.flashcard_id.as_uuid(),
            rating: r.rating.as_str(),
            due_at: r.due_at,
            interval_days: r.interval_days,
            reps: r.reps,
            lapses: r.lapses,
            stability: r.stability,
            difficulty: r.difficulty,
            next: r.next.into(),
        }
    }
}

/// A page of due cards, by due date then id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DuePage)]
pub struct DuePageView {
    pub(crate) items: Vec<DueCardView>,
    #[schema(schema_with = due_cursor, required)]
    pub(crate) next_cursor: Option<String>,
}

/// How many cards are due now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DueCount)]
pub struct DueCountView {
    pub(crate) due: u64,
}

/// A learner's settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Settings)]
pub struct SettingsView {
    /// The share of cards the learner wants to still know when they come due: reviews are
    /// scheduled for it (higher: shorter intervals).
    #[schema(schema_with = retention)]
    desired_retention: f32,
}

impl From<SettingsRecord> for SettingsView {
    fn from(s: SettingsRecord) -> Self {
        Self {
            desired_retention: s.desired_retention,
        }
    }
}

/// What `PUT /api/v1/me/settings` takes.
#[derive(Deserialize, ToSchema)]
#[schema(as = SettingsUpdate)]
pub(crate) struct SettingsRequest {
    /// The retention to schedule reviews for.
    #[schema(schema_with = retention)]
    pub desired_retention: f64,
}
