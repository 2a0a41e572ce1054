//! User-scoped transactions on [`Database`]: a user's, the system's and the public view's, each
//! opened with its scope's `set_config` in the one message that carries `BEGIN`, on another
//! pooled connection when the server ended the first one taken.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Object;
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::pool::{Conn, Database};

/// The future a transaction body returns.
pub(crate) type TxFuture<'r, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'r>>;

impl Database {
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
                    if tries > self.max_size() {
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

    use crate::error::StoreError;
    use crate::pool::{Database, PoolOptions};

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

    /// One pooled connection serves a user, the system scope, a failed transaction and another
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
