//! SQL that several port implementations run inside their own transactions: the rate window,
//! the writes to `jobs`, recording attempts, reading a plan and its progress. Nothing here opens a transaction or
//! imports a port; the files of [`crate::stores`] import these.

pub(crate) mod attempts;
pub(crate) mod breaker;
pub(crate) mod content_edits;
pub(crate) mod content_writes;
pub(crate) mod drafts;
pub(crate) mod idempotency;
pub(crate) mod job_writes;
pub(crate) mod plan_changes;
pub(crate) mod plan_reads;
pub(crate) mod plans;
pub(crate) mod prepared;
pub(crate) mod progress;
pub(crate) mod provider_stats;
pub(crate) mod rate_window;
pub(crate) mod skill_previews;
pub(crate) mod study;
pub(crate) mod usage;
pub(crate) mod users;
pub(crate) mod webhooks;
