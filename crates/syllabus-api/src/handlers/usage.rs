//! `GET /usage` (issue #22): the caller's provider calls, tokens and cost over a range of UTC
//! days (`?from=&to=`, ISO dates, both included; default this month to today).

use actix_web::HttpResponse;
use chrono::NaiveDate;
use syllabus_domain::usage::report_range;

use super::support::{Query, Result, State};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::UsageReportView;

/// An ISO date from the query, 400 naming `field` when malformed.
fn date(query: &Query, field: &'static str) -> Result<Option<NaiveDate>> {
    query
        .get(field)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| ApiError::field(field, "must be an ISO date (YYYY-MM-DD)"))
        })
        .transpose()
}

pub(crate) async fn get_usage<S: Stores>(
    state: State<S>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse> {
    let from = date(&query, "from")?;
    let to = date(&query, "to")?;
    let today = chrono::Utc::now().date_naive();
    let (from, to) =
        report_range(from, to, today).map_err(|e| ApiError::field(e.field, e.message))?;
    let rows = state.store.usage(&caller.0, from, to).await?;
    Ok(HttpResponse::Ok().json(UsageReportView::new(
        from,
        to,
        state.settings.currency.clone(),
        &rows,
    )))
}
