//! Users: created on first sight of their token's subject.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::RunQueryDsl;
use syllabus_domain::UserId;

use crate::{Database, StoreError};

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
                let row: CreatedAt = diesel::sql_query(ENSURE_USER)
                    .bind::<Text, _>(id)
                    .get_result(conn)
                    .await?;
                Ok(row.created_at)
            })
        })
        .await
    }
}
