//! [`StudyStore`](crate::ports::StudyStore) on [`Database`]: reviews (one transaction under the
//! card's lock, replayed by `review_id`), the due list and count, settings and the deck export.

use chrono::{DateTime, Utc};
use diesel_async::RunQueryDsl;
use syllabus_domain::review::{self, Retention};
use syllabus_domain::{PlanId, UserId};

use crate::error::StoreError;
use crate::locks::lock_card_for_review;
use crate::pool::Database;
use crate::records::{
    DeckExport, DueCard, DueCursor, DuePage, DueRequest, NewReview, ReviewRecord, SettingsRecord,
};
use crate::sql::plans::plan_topic;
use crate::sql::study::{
    CountRow, DueRow, card_state, cards, due_count_query, due_page_query, logged, record_review,
    retention, set_retention,
};
use crate::sql::users::{UserRow, record_user};

impl crate::ports::StudyStore for Database {
    async fn review(&self, user: &UserId, review: NewReview) -> Result<ReviewRecord, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let card = review.card;
                // Under the card's lock: a second review of the card (the same `review_id`
                // sent twice at once) waits, then finds the first one's log row. The answer
                // carries the first review's rating: the caller refuses a replay that sent
                // another.
                let plan = lock_card_for_review(conn, card.as_uuid()).await?;
                if let Some(id) = review.review_id.as_deref()
                    && let Some(first) = logged(conn, &owner, card, id).await?
                {
                    return Ok(first);
                }
                let before = card_state(conn, card).await?;
                let retention = retention(conn, &owner).await?;
                let done = review::schedule(before.as_ref(), review.rating, review.now, retention)
                    .map_err(|e| StoreError::Unexpected(e.to_string()))?;
                record_review(
                    conn,
                    &owner,
                    plan,
                    card,
                    (review.rating, review.review_id.as_deref()),
                    before.map(|b| b.due_at),
                    &done,
                )
                .await?;
                Ok(ReviewRecord {
                    flashcard_id: card,
                    rating: review.rating,
                    due_at: done.memory.due_at,
                    interval_days: done.interval_days,
                    reps: done.memory.reps,
                    lapses: done.memory.lapses,
                    stability: done.memory.stability,
                    difficulty: done.memory.difficulty,
                    next: done.next,
                })
            })
        })
        .await
    }

    async fn due(&self, user: &UserId, request: DueRequest) -> Result<DuePage, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                if let Some(plan) = request.plan {
                    plan_topic(conn, plan).await?;
                }
                let size = usize::try_from(request.limit.clamp(1, 100)).unwrap_or(20);
                let rows: Vec<DueRow> = due_page_query(
                    &owner,
                    request.plan,
                    request.after,
                    request.until,
                    i64::from(request.limit.clamp(1, 100)) + 1,
                )
                .load(conn)
                .await?;
                let more = rows.len() > size;
                let rows = &rows[..rows.len().min(size)];
                let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
                let mut found = cards(conn, &ids, None).await?;
                let mut items = Vec::with_capacity(rows.len());
                for r in rows {
                    // A card deleted between the two reads is left out.
                    if let Some(i) = found.iter().position(|(c, _)| c.id.as_uuid() == r.id) {
                        let (card, _) = found.swap_remove(i);
                        items.push(DueCard {
                            card,
                            due_at: r.due_at,
                        });
                    }
                }
                let next = if more {
                    rows.last().map(|r| DueCursor {
                        due_at: r.due_at,
                        id: r.id,
                    })
                } else {
                    None
                };
                Ok(DuePage { items, next })
            })
        })
        .await
    }

    async fn due_count(
        &self,
        user: &UserId,
        plan: Option<PlanId>,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                if let Some(plan) = plan {
                    plan_topic(conn, plan).await?;
                }
                let row: CountRow = due_count_query(&owner, plan, until)
                    .get_result(conn)
                    .await?;
                Ok(u64::try_from(row.n).unwrap_or(0))
            })
        })
        .await
    }

    async fn settings(&self, user: &UserId) -> Result<SettingsRecord, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                Ok(SettingsRecord {
                    desired_retention: retention(conn, &owner).await?.get(),
                })
            })
        })
        .await
    }

    async fn put_settings(
        &self,
        user: &UserId,
        retention: Retention,
    ) -> Result<SettingsRecord, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                record_user(conn, &owner, UserRow::Unknown).await?;
                Ok(SettingsRecord {
                    desired_retention: set_retention(conn, &owner, retention).await?,
                })
            })
        })
        .await
    }

    async fn deck_export(&self, user: &UserId, plan: PlanId) -> Result<DeckExport, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let topic = plan_topic(conn, plan).await?;
                let cards = cards(conn, &[], Some(plan)).await?;
                Ok(DeckExport { topic, cards })
            })
        })
        .await
    }
}
