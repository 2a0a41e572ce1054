//! Provider calls as the ledger records them, and what a usage report and the metrics read back
//! (issue #22).

use chrono::{DateTime, NaiveDate, Utc};
use syllabus_domain::{FailureClass, JobType};

/// One provider call, written with its run's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCall {
    /// The provider's host.
    pub provider: String,
    /// The model asked.
    pub model: String,
    /// `None` for a success.
    pub classification: Option<FailureClass>,
    /// Prompt tokens, when the provider reported usage.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens, when the provider reported usage.
    pub completion_tokens: Option<u32>,
    /// Whether the model had a price at the call.
    pub priced: bool,
    /// Nano currency units at the price in force; `None` without a price or without usage.
    pub cost_nanos: Option<i64>,
    /// Monotonic duration of the call.
    pub duration_ms: u64,
}

/// Sums over a set of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageTotals {
    /// Calls.
    pub calls: u64,
    /// Prompt tokens reported.
    pub prompt_tokens: u64,
    /// Completion tokens reported.
    pub completion_tokens: u64,
    /// Calls whose model had no price.
    pub unpriced_calls: u64,
    /// Nano units of the priced calls.
    pub cost_nanos: i64,
}

impl UsageTotals {
    /// Adds `other` in.
    pub fn add(&mut self, other: &Self) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.unpriced_calls += other.unpriced_calls;
        self.cost_nanos = self.cost_nanos.saturating_add(other.cost_nanos);
    }
}

/// A user's calls in a range of UTC days, raw rows and daily aggregates together, per day and
/// job type (a report sums them as it needs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageRows {
    /// Per day and job type.
    pub rows: Vec<(NaiveDate, JobType, UsageTotals)>,
}

/// Every user's calls since the ledger began (raw rows and aggregates), per provider, model,
/// job type and class: the metrics' counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCounter {
    /// The provider's host.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The job type.
    pub job_type: JobType,
    /// `None` for successes.
    pub class: Option<FailureClass>,
    /// The sums.
    pub totals: UsageTotals,
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Ledger rows folded into daily aggregates and deleted.
    pub calls_folded: u64,
    /// Module-regeneration attempts deleted.
    pub attempts_deleted: u64,
    /// Daily aggregates past their retention deleted.
    pub aggregates_deleted: u64,
    /// Expired rate-limit rows, previews and drafts of ended runs, and expired idempotency keys
    /// (issue #23), deleted.
    pub leftovers_deleted: u64,
    /// Whether another process held the retention lock (this pass did nothing).
    pub skipped: bool,
}

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Ledger rows and module-regeneration attempts (`ATTEMPT_RETENTION_DAYS`).
    pub calls_days: u32,
    /// Daily aggregates (`USAGE_AGGREGATE_RETENTION_DAYS`).
    pub aggregates_days: u32,
    /// The rate-limit window: rate rows older than it are expired.
    pub rate_window: std::time::Duration,
    /// Now, as the pass sees it (tests move it).
    pub now: DateTime<Utc>,
}
