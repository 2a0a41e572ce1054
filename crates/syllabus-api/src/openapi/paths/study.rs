//! The operations of spaced review and the Anki export (issue #24).

use utoipa::openapi::path::{HttpMethod, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Content, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::super::requests::id;
use super::super::responses::problem;
use super::Shared::{BadRequest, NotFound, RateLimited};
use super::{BODY, Op, STORE, json, of};
use crate::wire::{
    DUE_CURSOR_ACCEPTED, DueCountView, DuePageView, ReviewRequest, ReviewView, SettingsRequest,
    SettingsView,
};
use syllabus_domain::review::MAX_INTERVAL_DAYS;

/// The named schemas these operations use beyond the shared ones.
pub(in crate::openapi) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut out = Vec::new();
    out.push((ReviewRequest::name().into_owned(), ReviewRequest::schema()));
    ReviewRequest::schemas(&mut out);
    out.push((ReviewView::name().into_owned(), ReviewView::schema()));
    ReviewView::schemas(&mut out);
    out.push((DuePageView::name().into_owned(), DuePageView::schema()));
    DuePageView::schemas(&mut out);
    out.push((DueCountView::name().into_owned(), DueCountView::schema()));
    out.push((SettingsView::name().into_owned(), SettingsView::schema()));
    out.push((
        SettingsRequest::name().into_owned(),
        SettingsRequest::schema(),
    ));
    out
}

fn query(name: &str, schema: ObjectBuilder, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

fn plan_filter() -> Parameter {
    query(
        "plan_id",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        "Only this plan's cards (404 when it is not the caller's plan).",
    )
}

fn until() -> Parameter {
    query(
        "until",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        "Due at or before this time (RFC 3339); default now. A client passes the end of its \
         learner's day for \"due today\".",
    )
}

fn due_paging() -> [Parameter; 2] {
    let [limit, _] = super::super::requests::paging();
    [
        limit,
        query(
            "cursor",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(DUE_CURSOR_ACCEPTED)),
            "`next_cursor` of the previous page (opaque); empty is the first page.",
        ),
    ]
}

pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Post, Put};
    add(
        "/api/v1/flashcards/{id}/reviews",
        Post,
        Op::new(
            "reviewFlashcard",
            "Record a review of a card and schedule its next",
        )
        .description(&format!(
            "The FSRS-6 scheduler (the `fsrs` crate, default parameters) at the caller's \
                 desired retention: the interval is its interval rounded to whole days, 1 to \
                 {MAX_INTERVAL_DAYS}. `next` is what each rating would have given from the state \
                 before this review. `reps` counts reviews, `lapses` `again` answers after the \
                 first review. One transaction under the card's lock. A `review_id` already \
                 recorded for the card answers the first review again (200), recording nothing; \
                 sent with another rating, it is refused (422 naming review_id)."
        ))
        .params([id()])
        .body(of::<ReviewRequest>())
        .answer(
            200,
            json("The card's new schedule", of::<ReviewView>()).build(),
        )
        .answer(
            422,
            problem("VALIDATION_ERROR naming review_id: used with another rating"),
        )
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/reviews/due",
        Get,
        Op::new(
            "listDueCards",
            "The caller's cards due by now (or `until`), by due date then id",
        )
        .description(
            "Due: a reviewed card whose due date has come, or a card never reviewed (due since \
             it was created). Each item is a Flashcard with its `due_at`.",
        )
        .params([plan_filter(), until()])
        .params(due_paging())
        .answer(200, json("A page", of::<DuePageView>()).build())
        .errors(&[BadRequest, NotFound])
        .errors(&STORE),
    );
    add(
        "/api/v1/reviews/due/count",
        Get,
        Op::new(
            "countDueCards",
            "How many of the caller's cards are due by now (or `until`)",
        )
        .params([plan_filter(), until()])
        .answer(200, json("The count", of::<DueCountView>()).build())
        .errors(&[BadRequest, NotFound])
        .errors(&STORE),
    );
    add(
        "/api/v1/me/settings",
        Get,
        Op::new("getSettings", "The caller's settings (defaults until set)")
            .answer(200, json("The settings", of::<SettingsView>()).build())
            .errors(&STORE),
    );
    add(
        "/api/v1/me/settings",
        Put,
        Op::new("putSettings", "Set the caller's settings")
            .description("Out of range, the answer is a 400 naming `desired_retention`.")
            .body(of::<SettingsRequest>())
            .answer(200, json("The settings", of::<SettingsView>()).build())
            .errors(&BODY)
            .errors(&[RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/flashcards.txt",
        Get,
        Op::new(
            "exportFlashcardsAnki",
            "The plan's deck as an Anki text-import file",
        )
        .description(
            "Tab-separated, with Anki's file headers: `#separator:tab`, `#html:false`, \
             `#notetype:Syllabus` (fields Front, Back, Distractors), `#deck:` the plan's topic \
             (no tabs, line breaks or `::`), `#guid column:1`, `#tags column:5`; then one line \
             per card, oldest first: its id, question, answer, distractors joined with ` | ` \
             (empty without), tags (`syllabus` and `module-<n>`). A field with a tab, line \
             break or quote is in double quotes, a quote doubled. Importing it again updates \
             the notes (same GUIDs) instead of duplicating them.",
        )
        .params([id()])
        .answer(
            200,
            ResponseBuilder::new()
                .description("The deck")
                .header(
                    "Content-Disposition",
                    utoipa::openapi::HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .description(Some("attachment; filename=\"<slug of the topic>.txt\""))
                        .build(),
                )
                .content(
                    "text/plain",
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::String).build())),
                )
                .build(),
        )
        .errors(&[NotFound])
        .errors(&STORE),
    );
}
