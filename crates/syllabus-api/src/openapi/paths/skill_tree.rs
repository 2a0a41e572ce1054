//! A plan's skill tree, made by a queued job.

use utoipa::openapi::path::HttpMethod;

use super::super::requests::id;
use super::super::responses::problem;
use super::Shared::{NotFound, RateLimited};
use super::{Op, STORE, json, of, queued};
use crate::wire::SkillTreeView;

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Post};
    add(
        "/api/v1/plans/{id}/skill-tree",
        Post,
        Op::new(
            "createSkillTree",
            "Queue a job that replaces the plan's skill tree",
        )
        .params([id()])
        .idempotent()
        .answer(202, queued())
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/skill-tree",
        Get,
        Op::new("getSkillTree", "The plan's skill tree")
            .params([id()])
            .answer(200, json("The tree", of::<SkillTreeView>()).build())
            .answer(404, problem("No such plan, or no tree yet"))
            .errors(&STORE),
    );
}
