//! A user's row, recorded on their first write (a plan, a job, a copy).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::records::Idempotency;
use crate::schema::users;

/// Whether the current transaction has recorded its user's row already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserRow {
    /// An idempotency key was claimed fresh: the claim (`CLAIM_SQL`) inserted the row with the
    /// key's, so [`record_user`] has nothing to do.
    Recorded,
    /// Not known yet: [`record_user`] inserts it unless it exists.
    Unknown,
}

impl UserRow {
    /// What a create knows once [`crate::sql::idempotency::claim`] has answered `None` for
    /// `idem` (the create goes on): with a key, the claim was fresh and recorded the user.
    pub(crate) fn after_claim<T>(idem: Option<&Idempotency<T>>) -> Self {
        if idem.is_some() {
            Self::Recorded
        } else {
            Self::Unknown
        }
    }
}

/// Records `user` unless known (`row`), inside the caller's transaction.
pub(crate) async fn record_user(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    row: UserRow,
) -> Result<(), StoreError> {
    if row == UserRow::Recorded {
        return Ok(());
    }
    diesel::insert_into(users::table)
        .values(users::id.eq(user.as_str()))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use diesel::QueryableByName;
    use diesel::connection::InstrumentationEvent;
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use syllabus_domain::{StudyDays, UserId};
    use syllabus_testkit::TestDb;

    use crate::error::StoreError;
    use crate::pool::{Database, PoolOptions};
    use crate::ports::PlanStore;
    use crate::records::{
        Actor, Idempotency, Keyed, KeyedRequest, NewPlan, RateLimit, StoredResponse,
    };

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn plan() -> NewPlan {
        NewPlan {
            topic: "Rust ownership".into(),
            topic_truncated: false,
            topic_original_length: 14,
            notes: None,
            notes_truncated: false,
            notes_original_length: None,
            skill_level: "beginner".into(),
            weekly_hours: 5,
            learning_style: "practice".into(),
            start_date: None,
            deadline_date: None,
            study_days: StudyDays::ALL,
        }
    }

    fn key<T>(key: &str) -> Idempotency<T> {
        Idempotency {
            request: KeyedRequest {
                key: key.into(),
                method: "POST".into(),
                path: "/api/v1/plans".into(),
                fingerprint: vec![7; 32],
                ttl: Duration::from_secs(3600),
            },
            answer: Box::new(|_| StoredResponse {
                status: 201,
                headers: Vec::new(),
                body: b"{}".to_vec(),
            }),
        }
    }

    /// Counts, from now on, the statements that insert a user's row on the pool's connection
    /// (the pool holds one, so every transaction runs on it).
    async fn count_user_inserts(db: &Database) -> Result<Arc<AtomicUsize>, StoreError> {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let mut conn = db.conn().await?;
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                let sql = query.to_string().to_lowercase();
                if sql.contains("insert into users") || sql.contains("insert into \"users\"") {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Ok(count)
    }

    async fn user_rows(admin: &mut AsyncPgConnection, user: &UserId) -> Result<i64, StoreError> {
        let c: Count = diesel::sql_query("SELECT count(*) AS n FROM users WHERE id = $1")
            .bind::<Text, _>(user.as_str())
            .get_result(admin)
            .await?;
        Ok(c.n)
    }

    /// A keyed create upserts its user once, in the key's claim; a create without a key still
    /// records its user (in the rate window); both users have their row.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_keyed_create_records_its_user_in_one_statement() -> TestResult {
        let test = TestDb::new().await?;
        let db = Database::connect(
            test.url(),
            PoolOptions {
                max_size: 1,
                ..PoolOptions::default()
            },
        )?;
        let limit = RateLimit {
            limit: 100,
            window: Duration::from_secs(3600),
            monthly_token_budget: None,
        };
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        for (name, keyed) in [("keyed", true), ("unkeyed", false)] {
            let user = UserId::parse(name).ok_or("user id")?;
            let actor = Actor {
                user: user.clone(),
                request_id: None,
            };
            let inserts = count_user_inserts(&db).await?;
            let idem = keyed.then(|| key(&format!("{name}-1")));
            let made = db.create_plan(&actor, &plan(), 3, limit, idem).await?;
            assert!(matches!(made, Keyed::Fresh(_)), "{name}: created");
            assert_eq!(
                inserts.as_ref().load(Ordering::SeqCst),
                1,
                "{name}: user inserts"
            );
            assert_eq!(
                user_rows(&mut admin, &user).await?,
                1,
                "{name}: the user's row"
            );
        }
        Ok(())
    }
}
