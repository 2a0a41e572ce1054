//! Embedded migrations, applied under a PostgreSQL advisory lock.
//!
//! Several `serve` and `worker` processes may start at once against one database: the first to
//! take the lock applies what is pending, the others wait for it and then find nothing to do.

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::StoreError;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The advisory-lock key that serializes migrations (`hashtext('syllabus.migrations')` would do as
/// well; a constant is easier to find in `pg_locks`).
pub const MIGRATIONS_LOCK_KEY: i64 = 0x5359_4c4c_4142_5553; // "SYLLABUS"

/// Applies every pending migration and returns the versions applied (empty when up to date).
///
/// Needs a multi-threaded tokio runtime: diesel's migration harness is synchronous and runs
/// through `block_in_place`.
///
/// # Errors
/// [`StoreError::Unavailable`] when the database cannot be reached, [`StoreError::Migration`]
/// when a migration fails (its transaction is rolled back).
#[tracing::instrument(skip_all)]
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATIONS_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = tokio::task::block_in_place(|| {
        harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| StoreError::Migration(e.to_string()))
    });
    let mut conn = harness.into_inner();
    // Unlock even when a migration failed; closing the connection would release it as well.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATIONS_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let applied = applied?;
    tracing::info!(
        migrations.applied = applied.len(),
        "database schema is up to date"
    );
    Ok(applied)
}
