//! Users: created on first sight of their token's subject.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use syllabus_domain::UserId;

use crate::schema::users;
use crate::{Database, StoreError};

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
                diesel::insert_into(users::table)
                    .values(users::id.eq(&id))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                let created: DateTime<Utc> = users::table
                    .find(&id)
                    .select(users::created_at)
                    .first(conn)
                    .await?;
                Ok(created)
            })
        })
        .await
    }
}
