//! A plan's flashcard deck and a card's distractors, each made by a queued job.

use utoipa::PartialSchema;
use utoipa::openapi::path::HttpMethod;

use super::super::requests::{self, id};
use super::super::responses::problem;
use super::Shared::{NotFound, RateLimited};
use super::{BODY, Op, STORE, json, queued};
use crate::wire::{FlashcardView, ItemsView};

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Post};
    add(
        "/api/v1/plans/{id}/flashcards",
        Post,
        Op::new(
            "createFlashcards",
            "Queue a job that adds up to max_cards cards to the plan's deck",
        )
        .params([id()])
        .body(requests::flashcards_create())
        .idempotent()
        .answer(202, queued())
        .answer(
            409,
            problem("INVALID_STATE: the plan has no modules yet; or IDEMPOTENCY_KEY_IN_USE"),
        )
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/flashcards",
        Get,
        Op::new("listFlashcards", "The plan's deck, oldest first")
            .params([id()])
            .answer(
                200,
                json("Cards", ItemsView::<FlashcardView>::schema()).build(),
            )
            .errors(&[NotFound])
            .errors(&STORE),
    );
    add(
        "/api/v1/flashcards/{id}/distractors",
        Post,
        Op::new(
            "createDistractors",
            "Queue a job that replaces the card's distractors",
        )
        .params([id()])
        .idempotent()
        .answer(202, queued())
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
}
