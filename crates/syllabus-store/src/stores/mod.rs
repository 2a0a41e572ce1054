//! [`Database`](crate::pool::Database)'s implementation of each port of [`crate::ports`], one file per
//! port. A file here imports the lower modules ([`crate::sql`], [`crate::rows`],
//! [`crate::locks`], [`crate::previews`]) and never another file here.

mod content;
mod content_jobs;
mod deliveries;
mod edits;
mod generation;
pub(crate) mod jobs;
mod limits;
pub(crate) mod plans;
mod progress;
pub(crate) mod queue;
mod regeneration;
mod sharing;
mod study;
mod usage;
mod webhooks;
