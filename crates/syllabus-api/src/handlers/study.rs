//! Spaced review and the Anki export (issue #24): `/flashcards/{id}/reviews`, `/reviews/due`
//! (and its count), `/me/settings`, `/plans/{id}/flashcards.txt`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::Value;
use syllabus_domain::anki::{AnkiCard, deck_file, file_slug};
use syllabus_domain::input::StringEnum as _;
use syllabus_domain::review::{MAX_RETENTION, MIN_RETENTION, Rating, Retention, valid_review_id};
use syllabus_domain::{FlashcardId, PlanId};
use syllabus_store::records::{DueCursor, DueRequest, NewReview};
use uuid::Uuid;

use super::support::{Query, Result, State};
use crate::auth::Caller;
use crate::input::{from_value, limit, path_id};
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::{
    DueCardView, DueCountView, DuePageView, ReviewRequest, ReviewView, SettingsRequest,
    SettingsView,
};

/// `POST /api/v1/flashcards/{id}/reviews` `{"rating", "review_id"?}` → 200 with the card's new
/// schedule.
pub(crate) async fn post_review<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let card = FlashcardId::from_uuid(path_id(&path)?);
    let ReviewRequest { rating, review_id } = from_value(body.into_inner())?;
    let rating =
        Rating::from_wire(&rating).ok_or_else(|| ApiError::field("rating", Rating::expected()))?;
    if review_id.as_deref().is_some_and(|id| !valid_review_id(id)) {
        return Err(ApiError::field(
            "review_id",
            "must be 1 to 100 visible ASCII characters",
        ));
    }
    let _turn = state.gates.write_turn(&caller.0).await?;
    let review = state
        .store
        .review(
            &caller.0,
            NewReview {
                card,
                rating,
                review_id,
                now: Utc::now(),
            },
        )
        .await?;
    if review.rating != rating {
        // A replay (the card already has this `review_id`) that sent another rating: the
        // first one counted; answering it as if this one had would mislead the caller.
        return Err(ApiError::unprocessable(
            "review_id",
            format!(
                "was already used for a review of this card rated {:?}; use a new review_id \
                 for a new review",
                review.rating.as_str()
            ),
        ));
    }
    tracing::info!(flashcard.id = %card, rating = rating.as_str(), "card reviewed");
    Ok(HttpResponse::Ok().json(ReviewView::from(review)))
}

/// The due list's cursor: `d`, the due date's microseconds (16 hex digits), the card's id.
pub(crate) fn encode_due_cursor(c: DueCursor) -> String {
    // Due dates are after 1970: the microseconds are positive.
    let micros = u64::try_from(c.due_at.timestamp_micros()).unwrap_or(0);
    format!("d{micros:016x}{}", c.id.simple())
}

/// Only the form [`encode_due_cursor`] writes.
pub(crate) fn decode_due_cursor(raw: &str) -> Option<DueCursor> {
    let hex = raw.strip_prefix('d')?;
    if hex.len() != 48 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || hex[..1] > *"6" {
        return None;
    }
    let micros = i64::try_from(u64::from_str_radix(&hex[..16], 16).ok()?).ok()?;
    Some(DueCursor {
        due_at: DateTime::<Utc>::from_timestamp_micros(micros)?,
        id: Uuid::try_parse(&hex[16..]).ok()?,
    })
}

/// `until` (RFC 3339), or now: "due" is due at or before it. A client passes the end of its
/// learner's day so that "due today" means the day, not the instant.
fn until_param(query: &Query) -> Result<DateTime<Utc>> {
    match query.get("until") {
        None => Ok(Utc::now()),
        Some(t) => DateTime::parse_from_rfc3339(&offset_plus(t))
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::field("until", "must be an RFC 3339 date-time")),
    }
}

/// A query string decodes a bare `+` as a space: `…T00:00:00+01:00` sent unencoded arrives as
/// `…T00:00:00 01:00`. A space in the offset's place (before the final `hh:mm`) is read as `+`.
fn offset_plus(t: &str) -> std::borrow::Cow<'_, str> {
    let n = t.len();
    if n > 6 && t.is_char_boundary(n - 6) && t[n - 6..].starts_with(' ') {
        std::borrow::Cow::Owned(format!("{}+{}", &t[..n - 6], &t[n - 5..]))
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

fn plan_param(query: &Query) -> Result<Option<PlanId>> {
    match query.get("plan_id") {
        None => Ok(None),
        Some(p) => Uuid::try_parse(p)
            .ok()
            .filter(|_| p.len() == 36)
            .map(|id| Some(PlanId::from_uuid(id)))
            .ok_or_else(|| ApiError::field("plan_id", "must be a plan's id (a UUID)")),
    }
}

/// `GET /api/v1/reviews/due?plan_id=&until=&limit=&cursor=` → the caller's due cards by due date.
pub(crate) async fn due_list<S: Stores>(
    state: State<S>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse> {
    let plan = plan_param(&query)?;
    let limit = limit(&query)?;
    let after = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            decode_due_cursor(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
        ),
    };
    let due = state
        .store
        .due(
            &caller.0,
            DueRequest {
                plan,
                limit,
                after,
                until: until_param(&query)?,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(DuePageView {
        items: due.items.into_iter().map(DueCardView::from).collect(),
        next_cursor: due.next.map(encode_due_cursor),
    }))
}

/// `GET /api/v1/reviews/due/count?plan_id=&until=` → `{"due": n}`.
pub(crate) async fn due_count<S: Stores>(
    state: State<S>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse> {
    let plan = plan_param(&query)?;
    let until = until_param(&query)?;
    let due = state.store.due_count(&caller.0, plan, until).await?;
    Ok(HttpResponse::Ok().json(DueCountView { due }))
}

/// `GET /api/v1/me/settings`.
pub(crate) async fn get_settings<S: Stores>(
    state: State<S>,
    caller: Caller,
) -> Result<HttpResponse> {
    let settings = state.store.settings(&caller.0).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

/// `PUT /api/v1/me/settings` `{"desired_retention"}`.
pub(crate) async fn put_settings<S: Stores>(
    state: State<S>,
    caller: Caller,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let SettingsRequest { desired_retention } = from_value(body.into_inner())?;
    let retention = Retention::new(desired_retention).ok_or_else(|| {
        ApiError::field(
            "desired_retention",
            format!("must be a number from {MIN_RETENTION} to {MAX_RETENTION}"),
        )
    })?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let settings = state.store.put_settings(&caller.0, retention).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

/// `GET /api/v1/plans/{id}/flashcards.txt` → the deck as an Anki text-import file.
pub(crate) async fn anki_export<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    let deck = state.store.deck_export(&caller.0, plan).await?;
    let cards: Vec<AnkiCard<'_>> = deck
        .cards
        .iter()
        .map(|(c, module_position)| AnkiCard {
            id: c.id.as_uuid(),
            question: &c.question,
            answer: &c.answer,
            distractors: &c.distractors,
            module_position: *module_position,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}.txt\"", file_slug(&deck.topic)),
        ))
        .body(deck_file(&deck.topic, &cards)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_cursors_round_trip_and_nothing_else_is_one() {
        let c = DueCursor {
            due_at: "2026-12-05T10:00:00.123456Z".parse().unwrap_or_default(),
            id: Uuid::now_v7(),
        };
        let s = encode_due_cursor(c);
        assert!(
            regex_lite::Regex::new(crate::wire::study::DUE_CURSOR_ISSUED)
                .is_ok_and(|r| r.is_match(&s))
        );
        assert_eq!(decode_due_cursor(&s), Some(c));
        assert_eq!(
            decode_due_cursor(&s.to_ascii_uppercase().replacen('D', "d", 1)),
            Some(c)
        );
        // The first hex digit of the time is at most 6: any such cursor decodes.
        let far = format!("d6{}", "f".repeat(47));
        assert!(decode_due_cursor(&far).is_some());
        let beyond = format!("d7{}", "0".repeat(47));
        for bad in [
            "",
            "d",
            &s[1..],
            &format!("c{}", &s[1..]),
            &format!("{s}0"),
            &beyond,
        ] {
            assert_eq!(decode_due_cursor(bad), None, "{bad}");
        }
        let accepted = regex_lite::Regex::new(crate::wire::study::DUE_CURSOR_ACCEPTED);
        assert!(accepted.is_ok_and(|r| {
            r.is_match(&s) && r.is_match(&far) && r.is_match("") && !r.is_match(&beyond)
        }));
    }
}
