//! A user's row, recorded on their first write (a plan, a job, a copy).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::schema::users;

/// Records `user` unless known, inside the caller's transaction.
pub(crate) async fn record_user(
    conn: &mut AsyncPgConnection,
    user: &UserId,
) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values(users::id.eq(user.as_str()))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}
