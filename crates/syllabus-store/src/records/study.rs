//! Spaced review and the Anki export (issue #24) as records.

use chrono::{DateTime, Utc};
use syllabus_domain::review::{NextDue, Rating};
use syllabus_domain::{FlashcardId, PlanId};
use uuid::Uuid;

use super::FlashcardRecord;

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The card.
    pub card: FlashcardId,
    /// The learner's answer.
    pub rating: Rating,
    /// The client's id of this review: the same id again is answered from the first.
    pub review_id: Option<String>,
    /// The review's time.
    pub now: DateTime<Utc>,
}

/// A recorded review's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewRecord {
    /// The card.
    pub flashcard_id: FlashcardId,
    /// The rating this review recorded (a replay's is the first review's).
    pub rating: Rating,
    /// When it is next due.
    pub due_at: DateTime<Utc>,
    /// Days from the review to `due_at`.
    pub interval_days: u32,
    /// Reviews so far.
    pub reps: u32,
    /// `again` answers after the first review.
    pub lapses: u32,
    /// FSRS stability after the review.
    pub stability: f32,
    /// FSRS difficulty after the review.
    pub difficulty: f32,
    /// What each rating would have given from the state before the review.
    pub next: NextDue,
}

/// Where a page of the due list starts: after this card at this due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCursor {
    /// The last item's due date.
    pub due_at: DateTime<Utc>,
    /// The last item's card.
    pub id: Uuid,
}

/// A page of the due list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRequest {
    /// Only this plan's cards.
    pub plan: Option<PlanId>,
    /// Items per page (1–100).
    pub limit: u32,
    /// The previous page's cursor.
    pub after: Option<DueCursor>,
    /// "Due" is due at or before this time (now, or the end of the learner's day).
    pub until: DateTime<Utc>,
}

/// A due card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCard {
    /// The card.
    pub card: FlashcardRecord,
    /// When it became due (its creation, when never reviewed).
    pub due_at: DateTime<Utc>,
}

/// A page of due cards, by due date then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePage {
    /// The cards.
    pub items: Vec<DueCard>,
    /// Where the next page starts, or `None` on the last.
    pub next: Option<DueCursor>,
}

/// A learner's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingsRecord {
    /// The retention reviews are scheduled for.
    pub desired_retention: f32,
}

/// A plan's deck for the Anki export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeckExport {
    /// The plan's topic.
    pub topic: String,
    /// The cards oldest first, each with its module's position (when it has a module).
    pub cards: Vec<(FlashcardRecord, Option<u32>)>,
}
