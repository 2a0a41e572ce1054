//! The store's errors, shaped by what a caller must decide.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or the pool is exhausted: a transient condition (503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The row does not exist or belongs to someone else.
    #[error("not found")]
    NotFound,
    /// A uniqueness or state constraint refused the write; the name says which.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The constraint that refused the write.
        constraint: String,
    },
    /// The job's lease was lost (it was rescued or released): this run may not finish it.
    #[error("the job's lease was lost")]
    LeaseLost,
    /// The user's sliding-window limit for this job type is reached.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// When a slot frees up.
        retry_after: std::time::Duration,
    },
    /// The operation does not apply in the resource's current state.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// Migrations could not be applied.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// Anything else: a bug or an unexpected database state.
    #[error("unexpected database error: {0}")]
    Unexpected(String),
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict {
                    constraint: info.constraint_name().unwrap_or("unique").to_owned(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("the connection's transaction state is broken".to_owned())
            }
            other => Self::Unexpected(other.to_string()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}
