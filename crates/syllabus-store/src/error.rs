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
    /// The user's tokens this calendar month reached `USER_MONTHLY_TOKEN_BUDGET` (issue #22):
    /// no job is created until the budget resets.
    #[error("the monthly token budget is used up until {resets_at}")]
    BudgetExceeded {
        /// When the budget resets: the 1st of next month, 00:00 UTC.
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// A deadlock or serialization failure ended the transaction: running it again may succeed.
    /// The store retries the writes it knows contend; what escapes is transient (503).
    #[error("the transaction was aborted by a concurrent one: {0}")]
    Contention(String),
    /// The module a flashcards job was writing cards for was replaced (a regeneration deleted
    /// it) before the cards were saved: the foreign key `flashcards_module_id_fkey` refused them.
    #[error("the module was replaced before the write")]
    ModuleReplaced,
    /// A statement waited longer than `lock_timeout` for a lock someone else holds (55P03): the
    /// resource is busy with another change (for a user's own request, usually the same user's
    /// change from another instance). Transient, but not retried in place: the caller is told
    /// to come back (429 with `Retry-After` to a client; the runtime retries).
    #[error("a lock was not granted in time: {0}")]
    Busy(String),
    /// The change is invalid against the row's current values (for instance a new start date
    /// after the deadline the plan already has); the issues name the fields.
    #[error("invalid change: {0}")]
    Invalid(syllabus_domain::Issues),
    /// The operation does not apply in the resource's current state.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The request's `Idempotency-Key` is held by a request still in flight (issue #23).
    #[error("the idempotency key is in use by a request in flight")]
    IdempotencyKeyInUse,
    /// The request's `Idempotency-Key` was used before for another request (another body or
    /// route) (issue #23).
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    /// The user has as many webhook endpoints as allowed (issue #23).
    #[error("the webhook endpoint limit is reached")]
    WebhookLimit,
    /// Migrations could not be applied.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// Anything else: a bug or an unexpected database state.
    #[error("unexpected database error: {0}")]
    Unexpected(String),
}

/// The foreign key from a card to its module (PostgreSQL's default name).
const FLASHCARD_MODULE_FK: &str = "flashcards_module_id_fkey";
/// The foreign key from a task's progress to its task: a task deleted by a hand edit (issue #21)
/// that committed while progress was being set on it is gone, not an internal error.
const TASK_PROGRESS_TASK_FK: &str = "task_progress_task_id_fkey";

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict {
                    constraint: info.constraint_name().unwrap_or("unique").to_owned(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
                if info.constraint_name() == Some(FLASHCARD_MODULE_FK) =>
            {
                Self::ModuleReplaced
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
                if info.constraint_name() == Some(TASK_PROGRESS_TASK_FK) =>
            {
                Self::NotFound
            }
            // No SQLSTATE: the connection closed, reset or could not send (diesel-async reports
            // every such tokio-postgres error as UnableToSendCommand).
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Contention(info.message().to_owned())
            }
            // 40P01 has no kind of its own in diesel, and diesel-async hides the SQLSTATE; the
            // server's message is fixed text (lc_messages is a superuser setting, C by default
            // in the images this runs on).
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().starts_with("deadlock detected") =>
            {
                Self::Contention(info.message().to_owned())
            }
            // `lock_timeout` (55P03): the lock is held by someone else for longer than the
            // connection may wait; running again later may succeed.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info
                    .message()
                    .starts_with("canceling statement due to lock timeout") =>
            {
                Self::Busy(info.message().to_owned())
            }
            // `statement_timeout` (57014): the database is too slow right now.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info
                    .message()
                    .starts_with("canceling statement due to statement timeout") =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("the connection's transaction state is broken".to_owned())
            }
            other => Self::Unexpected(other.to_string()),
        }
    }
}

impl StoreError {
    /// Whether the same operation may succeed if tried again shortly (the database restarting,
    /// a pool exhausted, a deadlock victim).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Contention(_) | Self::Busy(_)
        )
    }

    /// Whether the error says the connection is gone: it could not be used (closed, reset), or
    /// the server ended it (57P01 administrator shutdown, 57P02 crash shutdown, 57P03 cannot
    /// connect now: "terminating connection …", fixed text as for the deadlock above).
    pub(crate) fn is_connection_ended(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Unexpected(message) => message.starts_with("terminating connection"),
            _ => false,
        }
    }

    /// An error seen on a connection that is now closed is the connection's failure (an
    /// administrator shutdown 57P01, a crash 57P02, any 08xxx), whatever its kind: transient.
    pub(crate) fn on_broken_connection(self) -> Self {
        match self {
            Self::Unexpected(e) => Self::Unavailable(e),
            other => other,
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}
