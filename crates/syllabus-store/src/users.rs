//! Users: created on first sight of their token's subject.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::pool::Database;

/// Inserts the user unless known and returns its creation time, in one round trip: the CTE
/// yields the new row, the second branch the existing one (it cannot see the CTE's insert).
const ENSURE_USER: &str = "
    WITH inserted AS (
        INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING created_at
    )
    SELECT created_at FROM inserted
    UNION ALL
    SELECT created_at FROM users WHERE id = $1
    LIMIT 1";

#[derive(QueryableByName)]
struct CreatedAt {
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl Database {
    /// Records `user` if it is new and returns when it was first seen.
    ///
    /// # Errors
    /// The store's errors.
    #[tracing::instrument(skip(self), fields(user.id = %user))]
    pub async fn ensure_user(&self, user: &UserId) -> Result<DateTime<Utc>, StoreError> {
        let id = user.as_str().to_owned();
        self.as_user(user, |conn| {
            Box::pin(async move {
                let row: Option<CreatedAt> = diesel::sql_query(ENSURE_USER)
                    .bind::<Text, _>(id.clone())
                    .get_result(conn)
                    .await
                    .optional()?;
                if let Some(row) = row {
                    return Ok(row.created_at);
                }
                // A concurrent first request inserted the user after this statement's snapshot
                // was taken (ON CONFLICT waited for it): a new statement sees the committed row.
                let row: CreatedAt =
                    diesel::sql_query("SELECT created_at FROM users WHERE id = $1")
                        .bind::<Text, _>(id)
                        .get_result(conn)
                        .await?;
                Ok(row.created_at)
            })
        })
        .await
    }
}
