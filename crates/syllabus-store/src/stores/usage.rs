//! [`UsageStore`](crate::ports::UsageStore) on [`Database`]: a user's usage report read in
//! their row-level-security scope (issue #22).

use chrono::NaiveDate;
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::UsageRows;
use crate::sql::usage::day_sums;

impl crate::ports::UsageStore for Database {
    async fn usage(
        &self,
        user: &UserId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<UsageRows, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                Ok(UsageRows {
                    rows: day_sums(conn, &owner, from, to).await?,
                })
            })
        })
        .await
    }
}
