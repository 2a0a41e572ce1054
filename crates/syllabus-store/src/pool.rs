//! The connection pool: [`Database`] and its [`PoolOptions`] (the transactions on it, scoped to a
//! user, the system or the public view, are [`crate::scope`]'s).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::StoreError;
use crate::finisher::Finisher;
use crate::publisher::Publisher;
use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections held at once.
    pub max_size: usize,
    /// How long a caller waits for a free connection before the store reports `Unavailable`.
    pub wait_timeout: Duration,
    /// PostgreSQL's `lock_timeout` on every connection: a statement that waits longer for a
    /// lock fails as [`StoreError::Busy`] instead of parking its connection (`None`: no
    /// limit).
    pub lock_timeout: Option<Duration>,
    /// PostgreSQL's `statement_timeout` on every connection: a statement that runs longer is
    /// cancelled and fails as [`StoreError::Unavailable`] (`None`: no limit).
    pub statement_timeout: Option<Duration>,
}

/// The default `lock_timeout` (`DATABASE_LOCK_TIMEOUT_MS`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// The default `statement_timeout` (`DATABASE_STATEMENT_TIMEOUT_MS`).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 32,
            wait_timeout: Duration::from_secs(5),
            lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
        }
    }
}

impl PoolOptions {
    /// The `SET` statements every new connection runs (empty when nothing is limited).
    fn session_settings(&self) -> String {
        let mut sql = String::new();
        for (name, value) in [
            ("lock_timeout", self.lock_timeout),
            ("statement_timeout", self.statement_timeout),
        ] {
            if let Some(d) = value {
                // 0 would mean "no limit" to PostgreSQL: a set limit is at least 1 ms.
                let ms = d.as_millis().max(1);
                sql.push_str(&format!("SET {name} = '{ms}ms';"));
            }
        }
        sql
    }
}

/// A handle on the database: cheap to clone, shared by the API and the workers.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    /// The process's preview writer, started by the first preview.
    previews: Arc<OnceLock<Publisher>>,
    /// The process's writer of batched run ends, started by the first end (issue #22).
    finishes: Arc<OnceLock<Finisher>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("status", &self.pool.status())
            .finish()
    }
}

pub(crate) type Conn = Object<AsyncPgConnection>;

impl Database {
    /// Builds a pool for `database_url`. No connection is opened until one is needed.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the pool cannot be built from the options.
    pub fn connect(database_url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let settings: Arc<str> = options.session_settings().into();
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // A connection taken from the pool is not pinged first (`SELECT 1`, a round trip per
        // transaction; issue #22): one whose server went away is known closed (its socket ended)
        // or mid-transaction, and dropped; a query on one that closed since fails as transient.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let settings = Arc::clone(&settings);
            let url = url.to_owned();
            Box::pin(async move {
                let mut conn = AsyncPgConnection::establish(&url).await?;
                if !settings.is_empty() {
                    conn.batch_execute(&settings)
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            database_url,
            config,
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.wait_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        Ok(Self {
            pool,
            previews: Arc::default(),
            finishes: Arc::default(),
        })
    }

    /// The preview writer shared by every clone of this handle, started on first use by
    /// `start` ([`crate::previews::start_publisher`]).
    pub(crate) fn previews(&self, start: impl FnOnce(Self) -> Publisher) -> &Publisher {
        self.previews.get_or_init(|| {
            // Its own handle has no writer of its own: the writer stops with the last user.
            start(Self {
                pool: self.pool.clone(),
                previews: Arc::default(),
                finishes: Arc::default(),
            })
        })
    }

    /// The writer of batched run ends shared by every clone of this handle, started on first
    /// use by `start` ([`crate::finishes::start_finisher`]).
    pub(crate) fn finisher(&self, start: impl FnOnce(Self) -> Finisher) -> &Finisher {
        self.finishes.get_or_init(|| {
            // Its own handle has no writer of its own: the writer stops with the last user.
            start(Self {
                pool: self.pool.clone(),
                previews: Arc::default(),
                finishes: Arc::default(),
            })
        })
    }

    pub(crate) async fn conn(&self) -> Result<Conn, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(())
    }

    /// The role the pool connects as when row-level security does not apply to it (`SUPERUSER`
    /// or `BYPASSRLS`): then every user's rows are visible to every query, and ownership is not
    /// enforced. `None` for a role the policies bind.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn role_bypassing_row_security(&self) -> Result<Option<String>, StoreError> {
        #[derive(diesel::QueryableByName)]
        struct Role {
            #[diesel(sql_type = Text)]
            name: String,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            bypasses: bool,
        }
        let mut conn = self.conn().await?;
        let role: Role = diesel::sql_query(
            "SELECT rolname::text AS name, rolsuper OR rolbypassrls AS bypasses
             FROM pg_roles WHERE rolname = current_user",
        )
        .get_result(&mut conn)
        .await?;
        Ok(role.bypasses.then_some(role.name))
    }

    /// Most connections the pool holds at once.
    pub(crate) fn max_size(&self) -> usize {
        self.pool.status().max_size
    }
}

#[cfg(test)]
mod tests {
    use diesel::QueryableByName;
    use diesel::sql_types::BigInt;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
    use syllabus_domain::UserId;
    use syllabus_testkit::TestDb;

    use super::{Database, PoolOptions};
    use crate::error::StoreError;

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// Every pooled connection carries the lock and statement timeouts: a statement that waits
    /// on a lock held elsewhere fails as `Busy` after `lock_timeout` instead of parking
    /// its connection, and a statement that runs too long is cancelled as `Unavailable`.
    #[tokio::test(flavor = "multi_thread")]
    async fn pooled_connections_give_up_on_long_lock_waits_and_long_statements() -> TestResult {
        let test = TestDb::new().await?;
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        admin
            .batch_execute("INSERT INTO users (id) VALUES ('alice')")
            .await?;
        let db = Database::connect(
            test.url(),
            PoolOptions {
                max_size: 2,
                lock_timeout: Some(std::time::Duration::from_millis(300)),
                statement_timeout: Some(std::time::Duration::from_millis(1_500)),
                ..PoolOptions::default()
            },
        )?;
        let alice = UserId::parse("alice").ok_or("user")?;
        // Another session holds alice's row.
        admin
            .batch_execute("BEGIN; SELECT * FROM users WHERE id = 'alice' FOR UPDATE")
            .await?;
        let bound = std::time::Duration::from_secs(20);
        let waited: Result<(), StoreError> = tokio::time::timeout(
            bound,
            db.as_user(&alice, |conn| {
                Box::pin(async move {
                    diesel::sql_query("SELECT id FROM users WHERE id = 'alice' FOR UPDATE")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            }),
        )
        .await
        .map_err(|_| "still waiting on the lock")?;
        assert!(matches!(waited, Err(StoreError::Busy(_))), "{waited:?}");
        admin.batch_execute("ROLLBACK").await?;

        let slow: Result<(), StoreError> = tokio::time::timeout(
            bound,
            db.as_user(&alice, |conn| {
                Box::pin(async move {
                    diesel::sql_query("SELECT pg_sleep(30)")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            }),
        )
        .await
        .map_err(|_| "the statement was not cancelled")?;
        assert!(matches!(slow, Err(StoreError::Unavailable(_))), "{slow:?}");
        // The connection is still good afterwards.
        let plans: Count = db
            .as_user(&alice, |conn| {
                Box::pin(async move {
                    Ok(diesel::sql_query("SELECT count(*) AS n FROM plans")
                        .get_result(conn)
                        .await?)
                })
            })
            .await?;
        assert_eq!(plans.n, 0);
        Ok(())
    }
}
