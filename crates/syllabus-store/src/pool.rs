//! The connection pool and user-scoped transactions.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::finisher::Finisher;
use crate::publisher::Publisher;

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

/// The future a transaction body returns.
pub(crate) type TxFuture<'r, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'r>>;

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

    /// Runs `f` in a transaction acting for `user`: row-level security shows and accepts only
    /// that user's rows, whatever the queries inside forget to filter.
    ///
    /// # Errors
    /// Whatever `f` returns, or the store's own errors; the transaction is rolled back on error.
    pub(crate) async fn as_user<T, F>(&self, user: &UserId, f: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> TxFuture<'r, T> + Send,
    {
        self.scoped("syllabus.user_id", user.as_str().to_owned(), f)
            .await
    }

    /// [`Self::as_user`] for writes that can lose a deadlock or serialization race: the whole
    /// transaction runs again (a few times, shortly apart) instead of failing.
    ///
    /// # Errors
    /// As [`Self::as_user`]; [`StoreError::Contention`] when every try lost.
    pub(crate) async fn as_user_retrying<T, F>(&self, user: &UserId, f: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'r> Fn(&'r mut AsyncPgConnection) -> TxFuture<'r, T> + Send + Sync,
    {
        let mut tries = 0_u32;
        loop {
            match self.as_user(user, &f).await {
                Err(StoreError::Contention(e)) if tries < CONTENTION_RETRIES => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "transaction lost a race; running it again");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(tries))).await;
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in a transaction of the job runtime's own bookkeeping (claiming, rescuing,
    /// metrics), which spans users by design: row-level security lets it see every row.
    ///
    /// # Errors
    /// Whatever `f` returns, or the store's own errors; the transaction is rolled back on error.
    pub(crate) async fn as_system<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> TxFuture<'r, T> + Send,
    {
        self.scoped("syllabus.scope", "system".to_owned(), f).await
    }

    /// Runs `f` in a transaction of the public view (issue #21), for no user: row-level
    /// security shows only public plans with their modules and tasks, and no other row of any
    /// table (`migrations/…_share_fork`).
    ///
    /// # Errors
    /// Whatever `f` returns, or the store's own errors; the transaction is rolled back on error.
    pub(crate) async fn as_public<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> TxFuture<'r, T> + Send,
    {
        self.scoped("syllabus.scope", "public".to_owned(), f).await
    }

    /// Runs `f` in a transaction that sets `setting` to `value` for that transaction only
    /// (`set_config(…, true)`): the pooled connection keeps nothing of it. `BEGIN` and the
    /// `set_config` go to the server as ONE simple-query message (issue #22: one round trip, not
    /// three: a bound `set_config` was a Parse round trip, then a Bind/Execute one), the value
    /// as an escaped literal ([`sql_literal`]).
    async fn scoped<T, F>(
        &self,
        setting: &'static str,
        value: String,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> TxFuture<'r, T> + Send,
    {
        use diesel_async::{AnsiTransactionManager, TransactionManager};
        let begin = format!(
            "BEGIN; SELECT set_config({}, {}, true)",
            sql_literal(setting),
            sql_literal(&value)
        );
        // Pooled connections are not pinged before use (`RecyclingMethod::Fast`): one whose
        // server ended it since (a database restart, an administrator's terminate) fails its
        // opening message, before anything ran. That connection is taken out of the pool and
        // the transaction opens on another, so a restart does not answer 503 once per stale
        // connection. At worst every pooled connection is stale, then a new one is opened.
        let mut tries: usize = 0;
        let mut conn = loop {
            let mut conn = self.conn().await?;
            match AnsiTransactionManager::begin_transaction_sql(&mut *conn, &begin).await {
                Ok(()) => break conn,
                Err(e) => {
                    use diesel_async::pooled_connection::PoolableConnection;
                    tries += 1;
                    let error = StoreError::from(e);
                    // Only a connection the server ended is worth another try; any other
                    // refusal of the opening would be the same on every connection.
                    if !(conn.is_broken() || error.is_connection_ended()) {
                        return Err(error);
                    }
                    drop(Object::take(conn));
                    if tries > self.pool.status().max_size {
                        return Err(error.on_broken_connection());
                    }
                }
            }
        };
        // As `AsyncConnection::transaction`, with that opening: commit on success, roll back on
        // error (the body's error wins over a failed rollback's). A future dropped half-way
        // leaves the transaction manager mid-transaction: the pool then discards the connection.
        let result = async {
            match f(&mut conn).await {
                Ok(value) => {
                    AnsiTransactionManager::commit_transaction(&mut *conn).await?;
                    Ok(value)
                }
                Err(e) => match AnsiTransactionManager::rollback_transaction(&mut *conn).await {
                    Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
                    Err(rollback) => Err(rollback.into()),
                },
            }
        }
        .await;
        settle(&mut conn, result)
    }
}

/// `value` as a PostgreSQL string literal in the escape syntax (`E'…'`: the same meaning
/// whatever `standard_conforming_strings` says), for the one statement that cannot take a bind
/// parameter because it travels with `BEGIN` in a simple-query message.
fn sql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            // NUL cannot be in a PostgreSQL string: refused by the server as any other.
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// How often a contended transaction runs again before its error is returned.
const CONTENTION_RETRIES: u32 = 4;

/// A transaction's result, with errors of a connection that closed under it made transient.
fn settle<T>(conn: &mut Conn, result: Result<T, StoreError>) -> Result<T, StoreError> {
    use diesel_async::pooled_connection::PoolableConnection;
    match result {
        Err(e) if conn.is_broken() => Err(e.on_broken_connection()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use diesel::QueryableByName;
    use diesel::sql_types::{BigInt, Nullable, Text};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
    use syllabus_domain::UserId;
    use syllabus_testkit::TestDb;

    use super::{Database, PoolOptions};
    use crate::error::StoreError;

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Settings {
        #[diesel(sql_type = Nullable<Text>)]
        user_id: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        scope: Option<String>,
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    async fn settings(conn: &mut AsyncPgConnection) -> Result<Settings, StoreError> {
        Ok(diesel::sql_query(
            "SELECT nullif(current_setting('syllabus.user_id', true), '') AS user_id,
                    nullif(current_setting('syllabus.scope', true), '') AS scope",
        )
        .get_result(conn)
        .await?)
    }

    /// The pool's one connection carries neither setting.
    async fn assert_clean(db: &Database, when: &str) -> TestResult {
        let mut conn = db.conn().await?;
        assert_eq!(
            settings(&mut conn).await?,
            Settings {
                user_id: None,
                scope: None
            },
            "{when}"
        );
        Ok(())
    }

    async fn plans_seen(db: &Database, user: &UserId) -> Result<i64, StoreError> {
        db.as_user(user, |conn| {
            Box::pin(async move {
                let c: Count = diesel::sql_query("SELECT count(*) AS n FROM plans")
                    .get_result(conn)
                    .await?;
                Ok(c.n)
            })
        })
        .await
    }

    /// The scope travels with `BEGIN` as a literal (issue #22): a user id with quotes and
    /// backslashes (a JWT subject may hold any printable text) is set exactly, and row-level
    /// security still shows that user only their own rows.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_user_id_with_quotes_and_backslashes_scopes_exactly_that_user() -> TestResult {
        let tricky = r"o'brien\', true); SELECT set_config('syllabus.scope', 'system";
        let test = TestDb::new().await?;
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        admin
            .batch_execute(&format!(
                "INSERT INTO users (id) VALUES ({0}), ('alice');
                 INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length,
                                    skill_level, weekly_hours, learning_style)
                 VALUES (gen_random_uuid(), 'alice', 'Rust ownership', false, 14, 'beginner', 5, 'practice')",
                super::sql_literal(tricky)
            ))
            .await?;
        let db = Database::connect(test.url(), PoolOptions::default())?;
        let user = UserId::parse(tricky).ok_or("user")?;
        let seen = db
            .as_user(&user, |conn| Box::pin(async move { settings(conn).await }))
            .await?;
        assert_eq!(
            seen,
            Settings {
                user_id: Some(tricky.to_owned()),
                scope: None
            }
        );
        assert_eq!(
            plans_seen(&db, &user).await?,
            0,
            "alice's plan stays hidden"
        );
        assert_eq!(super::sql_literal(r"a'b\c"), r"E'a''b\\c'");
        Ok(())
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
        assert_eq!(plans_seen(&db, &alice).await?, 0);
        Ok(())
    }

    /// One pooled connection serves a user, the system scope, a failed transaction and another
    /// Connections are not pinged before use: when the server ends every pooled connection (as
    /// a restart does), the next transactions still succeed, on new connections, instead of
    /// failing once per stale connection.
    #[tokio::test(flavor = "multi_thread")]
    async fn transactions_after_the_server_ended_every_pooled_connection_succeed() -> TestResult {
        let test = TestDb::new().await?;
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        let db = Database::connect(
            test.url(),
            PoolOptions {
                max_size: 3,
                ..PoolOptions::default()
            },
        )?;
        let alice = UserId::parse("alice").ok_or("user")?;
        // Three connections in the pool, all idle.
        let (a, b, c) = tokio::join!(
            plans_seen(&db, &alice),
            plans_seen(&db, &alice),
            plans_seen(&db, &alice)
        );
        assert_eq!((a?, b?, c?), (0, 0, 0));
        let ended: Count = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result(&mut admin)
        .await?;
        assert!(ended.n >= 1, "the pool's connections were ended");
        for _ in 0..4 {
            assert_eq!(plans_seen(&db, &alice).await?, 0);
        }
        Ok(())
    }

    /// user in turn: none of them inherits what the one before it set.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_pooled_connection_is_clean_after_each_transaction() -> TestResult {
        let test = TestDb::new().await?;
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        admin.batch_execute(
            "INSERT INTO users (id) VALUES ('alice'), ('bob');
             INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length,
                                skill_level, weekly_hours, learning_style)
             VALUES (gen_random_uuid(), 'alice', 'Rust ownership', false, 14, 'beginner', 5, 'practice')",
        )
        .await?;
        let db = Database::connect(
            test.url(),
            PoolOptions {
                max_size: 1,
                ..PoolOptions::default()
            },
        )?;
        let alice = UserId::parse("alice").ok_or("user")?;
        let bob = UserId::parse("bob").ok_or("user")?;

        assert_eq!(plans_seen(&db, &alice).await?, 1);
        assert_clean(&db, "after a user's transaction").await?;

        let seen_by_system = db
            .as_system(|conn| {
                Box::pin(async move {
                    let c: Count = diesel::sql_query("SELECT count(*) AS n FROM plans")
                        .get_result(conn)
                        .await?;
                    Ok(c.n)
                })
            })
            .await?;
        assert_eq!(seen_by_system, 1);
        assert_clean(&db, "after a system transaction").await?;
        assert_eq!(
            plans_seen(&db, &bob).await?,
            0,
            "bob after the system scope"
        );

        let failed: Result<(), StoreError> = db
            .as_user(&alice, |conn| {
                Box::pin(async move {
                    diesel::sql_query("SELECT 1/0").execute(conn).await?;
                    Ok(())
                })
            })
            .await;
        assert!(failed.is_err());
        assert_clean(&db, "after a rolled-back transaction").await?;
        assert_eq!(plans_seen(&db, &bob).await?, 0, "bob after alice's failure");
        Ok(())
    }
}
