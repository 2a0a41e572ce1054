//! [`StudyStore`]: spaced review of a user's flashcards, their settings and the Anki export
//! (issue #24).

use std::future::Future;

use chrono::{DateTime, Utc};
use syllabus_domain::review::Retention;
use syllabus_domain::{PlanId, UserId};

use crate::error::StoreError;
use crate::records::{DeckExport, DuePage, DueRequest, NewReview, ReviewRecord, SettingsRecord};

/// A learner's reviews and settings, under row-level security: another user's card or plan is
/// [`StoreError::NotFound`].
pub trait StudyStore: Clone + Send + Sync + 'static {
    /// Records a review in one transaction under the card's row lock (plan, then card): the
    /// state before, the scheduler's answer at the user's retention, the new state and the log
    /// row. A `review_id` already recorded for the card answers its first review, writing
    /// nothing.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; the store's errors.
    fn review(
        &self,
        user: &UserId,
        review: NewReview,
    ) -> impl Future<Output = Result<ReviewRecord, StoreError>> + Send;

    /// A page of the user's due cards (of one plan, when given), by due date then id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a plan that is not the user's; the store's errors.
    fn due(
        &self,
        user: &UserId,
        request: DueRequest,
    ) -> impl Future<Output = Result<DuePage, StoreError>> + Send;

    /// How many of the user's cards (of one plan, when given) are due at or before `until`.
    ///
    /// # Errors
    /// As [`Self::due`].
    fn due_count(
        &self,
        user: &UserId,
        plan: Option<PlanId>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The user's settings (the defaults when never set).
    ///
    /// # Errors
    /// The store's errors.
    fn settings(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<SettingsRecord, StoreError>> + Send;

    /// Sets the user's desired retention.
    ///
    /// # Errors
    /// The store's errors.
    fn put_settings(
        &self,
        user: &UserId,
        retention: Retention,
    ) -> impl Future<Output = Result<SettingsRecord, StoreError>> + Send;

    /// The plan's deck with its topic and the cards' module positions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; the store's errors.
    fn deck_export(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<DeckExport, StoreError>> + Send;
}
