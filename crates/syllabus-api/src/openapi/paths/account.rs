//! The caller's usage report, the session and development sign-in.

use utoipa::openapi::path::HttpMethod;

use super::super::requests;
use super::super::responses::{no_store, problem};
use super::super::texts;
use super::Shared::{BadRequest, Internal, Unauthorized};
use super::{BODY, Op, STORE, json, of};
use crate::wire::{DevSignInRequest, MintedView, SessionView, UsageReportView};

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Post};
    add(
        "/api/v1/usage",
        Get,
        Op::new(
            "getUsage",
            "The caller's provider calls, tokens and cost over a range of UTC days",
        )
        .description(
            "Every provider call of the caller's jobs (every job type, failures included), \
             summed in total, by job type and by UTC day (days without calls are left out). \
             Calls older than ATTEMPT_RETENTION_DAYS are answered from daily aggregates, \
             those older than USAGE_AGGREGATE_RETENTION_DAYS are gone. `cost` is in \
             `currency` units at the prices in force at each call, null when any call counted \
             was of a model without a price. `to` before `from`, or a range over 366 days, is \
             a 400 naming `to`; a malformed date a 400 naming it.",
        )
        .params([
            requests::usage_day("from", "First UTC day (default: the 1st of this month)"),
            requests::usage_day("to", "Last UTC day, included (default: today)"),
        ])
        .answer(
            200,
            json("The usage report", of::<UsageReportView>()).build(),
        )
        .errors(&[BadRequest])
        .errors(&STORE),
    );
    add(
        "/api/v1/session",
        Get,
        Op::new(
            "getSession",
            "Who the request is signed in as, and whether development sign-in is offered",
        )
        .description(texts::SESSION)
        .token_optional()
        .answer(
            200,
            json("The session", of::<SessionView<'static>>())
                .header("Cache-Control", no_store())
                .build(),
        )
        .errors(&[Unauthorized, Internal]),
    );
    add(
        "/api/v1/session/dev",
        Post,
        Op::new(
            "devSignIn",
            "Development sign-in: mint a token for a chosen name",
        )
        .description(&texts::dev_sign_in())
        .public()
        .body(of::<DevSignInRequest>())
        .answer(
            201,
            json("A token for the user", of::<MintedView<'static>>())
                .header("Cache-Control", no_store())
                .build(),
        )
        .answer(
            404,
            problem("NOT_FOUND: development sign-in is off (DEV_SIGN_IN is not set)"),
        )
        .errors(&BODY)
        .errors(&[Internal]),
    );
}
