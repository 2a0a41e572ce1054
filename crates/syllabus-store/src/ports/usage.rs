//! [`UsageStore`]: what a user's provider calls used and cost, as the usage report reads it
//! (issue #22).

use std::future::Future;

use chrono::NaiveDate;
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::records::UsageRows;

/// A user's provider calls, raw rows and daily aggregates together, under row-level security.
pub trait UsageStore: Clone + Send + Sync + 'static {
    /// The user's calls from `from` to `to` (UTC days, both included), per day and job type.
    ///
    /// # Errors
    /// The store's errors.
    fn usage(
        &self,
        user: &UserId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<UsageRows, StoreError>> + Send;
}
