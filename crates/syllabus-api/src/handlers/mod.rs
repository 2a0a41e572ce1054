//! The endpoints of SPEC §3, one file per resource: `plans` (`/plans`, `/plans/{id}`, its
//! attempts and regeneration), `progress` (`/tasks/{id}/progress`), `edits` (a plan's modules and tasks edited by hand), `content` (flashcards, distractors, the skill tree), `jobs`
//! (`/jobs`, a job, cancel and retry), `events` (the event streams of a plan and a job),
//! `module_regen` (one module regenerated, issue #21),
//! `session` (who is signed in, development sign-in), `sharing` (the public view of a plan, forks), `usage` (the caller's provider calls and their cost, issue #22), `webhooks` (a user's webhook endpoints and their deliveries, issue #23), `study` (reviews, the due list, settings, the Anki export, issue #24) and `service` (health, readiness, metrics,
//! the OpenAPI document, the 404 of unknown paths). `support` and `wait` hold what several share.
//!
//! Every handler that needs a user takes [`Caller`](crate::auth::Caller) before its body, so a
//! request without a valid token is answered 401 before its body is read.

mod content;
mod edits;
mod events;
mod jobs;
mod module_regen;
mod plans;
mod progress;
mod schedule;
mod service;
mod session;
mod sharing;
mod study;
mod support;
mod usage;
mod wait;
mod webhooks;

pub(crate) use content::{
    create_distractors, create_flashcards, create_skill_tree, get_skill_tree, list_flashcards,
};
pub(crate) use edits::{
    add_module, add_task, delete_module, delete_task, update_module, update_task,
};
pub(crate) use events::{job_events, plan_events};
pub(crate) use jobs::{cancel_job, create_job, get_job, list_jobs, retry_job};
pub(crate) use module_regen::regenerate_module;
pub(crate) use plans::{
    create_plan, delete_plan, get_plan, list_plans, plan_attempts, regenerate, update_plan,
};
pub(crate) use progress::set_task_progress;
pub(crate) use schedule::{get_schedule, get_schedule_ics};
pub(crate) use service::{healthz, metrics, not_found, openapi, readyz};
pub(crate) use session::{dev_sign_in, session};
pub(crate) use sharing::{fork_plan, public_plan};
pub(crate) use study::{anki_export, due_count, due_list, get_settings, post_review, put_settings};
pub(crate) use usage::get_usage;
pub(crate) use webhooks::{
    create_webhook, delete_webhook, get_webhook, list_deliveries, list_webhooks, test_webhook,
    update_webhook,
};
