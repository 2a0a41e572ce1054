//! The job handlers, one file per job type: each runs one claimed job and ends its run through
//! the [`Context`](crate::context::Context). [`crate::dispatch`] picks one per job.

mod content;
pub(crate) mod distractors;
pub(crate) mod flashcards;
pub(crate) mod module_regeneration;
pub(crate) mod plan_generation;
pub(crate) mod skill_tree;
pub(crate) mod webhook_delivery;
