//! The end-to-end suite, one test binary (one link of the whole tree per build): the real API
//! and workers in-process ([`syllabus_e2e::App`]) and the `syllabus` binary as a process, against
//! PostgreSQL and the fake OpenAI-compatible server. One module per concern.

mod anki;
mod cli;
mod content;
mod contract;
mod edits;
mod events;
mod fallback;
mod faults;
mod idempotency;
mod limits;
mod module_regeneration;
mod outage;
mod plan_changes;
mod plans;
mod progress;
mod quality;
mod queue;
mod reviews;
mod schedule;
mod sharing;
mod skill_tree_live;
mod usage;
mod web;
mod webhooks;
