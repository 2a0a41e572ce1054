//! `GET /usage` (issue #22): a user's provider calls summed over a range of UTC days, in total,
//! by job type and by day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use syllabus_domain::JobType;
use syllabus_domain::usage::nanos_to_units;
use syllabus_store::records::{UsageRows, UsageTotals};
use utoipa::ToSchema;

use super::fields;

/// Sums over a set of calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageSums)]
pub struct SumsView {
    /// Provider calls (failures included).
    calls: u64,
    /// Prompt tokens the provider reported.
    prompt_tokens: u64,
    /// Completion tokens the provider reported.
    completion_tokens: u64,
    /// `prompt_tokens + completion_tokens`.
    total_tokens: u64,
    /// In currency units at the prices in force at each call; `null` when any call counted
    /// here was of a model without a price (a partial sum would understate the cost).
    cost: Option<f64>,
}

impl From<UsageTotals> for SumsView {
    fn from(t: UsageTotals) -> Self {
        Self {
            calls: t.calls,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.prompt_tokens + t.completion_tokens,
            cost: (t.unpriced_calls == 0).then(|| nanos_to_units(t.cost_nanos)),
        }
    }
}

/// One job type's sums (the fields of [`SumsView`], written out: the document's schemas
/// refuse properties they do not name).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageByJobType)]
pub struct ByTypeView {
    #[schema(schema_with = fields::names::<JobType>)]
    job_type: &'static str,
    calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    cost: Option<f64>,
}

/// One UTC day's sums (days without calls are left out).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageByDay)]
pub struct ByDayView {
    day: NaiveDate,
    calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    cost: Option<f64>,
}

/// A user's usage over `from`..=`to`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageReport)]
pub struct UsageReportView {
    /// First UTC day, included.
    from: NaiveDate,
    /// Last UTC day, included.
    to: NaiveDate,
    /// `LLM_PRICE_CURRENCY` (a label).
    currency: String,
    total: SumsView,
    by_job_type: Vec<ByTypeView>,
    by_day: Vec<ByDayView>,
}

impl UsageReportView {
    /// The report of `rows` (per day and job type) over `from`..=`to`.
    #[must_use]
    pub fn new(from: NaiveDate, to: NaiveDate, currency: String, rows: &UsageRows) -> Self {
        let mut total = UsageTotals::default();
        let mut by_type: BTreeMap<&'static str, UsageTotals> = BTreeMap::new();
        let mut by_day: BTreeMap<NaiveDate, UsageTotals> = BTreeMap::new();
        for (day, job_type, t) in &rows.rows {
            total.add(t);
            by_type.entry(job_type.as_str()).or_default().add(t);
            by_day.entry(*day).or_default().add(t);
        }
        Self {
            from,
            to,
            currency,
            total: total.into(),
            by_job_type: by_type
                .into_iter()
                .map(|(job_type, t)| {
                    let s = SumsView::from(t);
                    ByTypeView {
                        job_type,
                        calls: s.calls,
                        prompt_tokens: s.prompt_tokens,
                        completion_tokens: s.completion_tokens,
                        total_tokens: s.total_tokens,
                        cost: s.cost,
                    }
                })
                .collect(),
            by_day: by_day
                .into_iter()
                .map(|(day, t)| {
                    let s = SumsView::from(t);
                    ByDayView {
                        day,
                        calls: s.calls,
                        prompt_tokens: s.prompt_tokens,
                        completion_tokens: s.completion_tokens,
                        total_tokens: s.total_tokens,
                        cost: s.cost,
                    }
                })
                .collect(),
        }
    }
}
