//! Run ends that write nothing but the job's own row (issue #22: a no-op or short job, a
//! failure, a retry, a cancellation; not a run that records a provider call or content, whose
//! end shares its transaction with them), many per statement: a per-process writer takes
//! everything queued when it starts (a lone end goes out at once, a burst in a few statements),
//! and each end is still fenced by its own lease: a stale lease's end in a batch is refused
//! ([`StoreError::LeaseLost`]) while the others land.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::StoreError;
use crate::finisher::{Finisher, PendingEnd};
use crate::pool::Database;
use crate::sql::job_writes::{EndColumns, end_columns, end_job};
use crate::sql::prepared::Prepared;

/// Most ends written by one statement.
const MAX_BATCH: usize = 256;
/// Most statements writing ends at once, per process.
const MAX_WRITERS: usize = 2;

/// Ends every lease of the batch that still holds its job, in id order (the batched heartbeat
/// locks in the same order: two multi-row writers never wait on each other in a circle), and
/// returns the ids of those that landed. The columns are `end_job`'s.
const FINISH_MANY_SQL: &str = "WITH e AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[],
                             $6::text[], $7::timestamptz[], $8::jsonb[])
            AS e(id, token, status, result, message, class, run_at, reask)
     ), locked AS (
        SELECT j.id FROM jobs j JOIN e ON j.id = e.id AND j.lease_token = e.token
        WHERE j.status = 'processing'
        ORDER BY j.id
        FOR UPDATE OF j
     )
     UPDATE jobs j SET status = e.status, result = e.result, error_message = e.message,
            error_classification = e.class, run_at = coalesce(e.run_at, j.run_at),
            reask = e.reask, lease_token = NULL, locked_by = NULL, heartbeat_at = NULL,
            updated_at = now(),
            completed_at = CASE WHEN e.status = 'pending' THEN NULL ELSE now() END
     FROM locked, e
     WHERE j.id = locked.id AND e.id = j.id AND j.lease_token = e.token
       AND j.status = 'processing'
     RETURNING j.id, e.token";

/// Starts `db`'s writer on the current runtime; it stops when the last handle is dropped.
pub(crate) fn start_finisher(db: Database) -> Finisher {
    let (finisher, rx) = Finisher::channel();
    tokio::spawn(crate::batches::write_batches(
        db,
        rx,
        MAX_WRITERS,
        MAX_BATCH,
        |db, batch| async move { write_batch(&db, batch).await },
    ));
    finisher
}

#[derive(QueryableByName)]
struct Landed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    /// The lease that ended it (a stale end of the same job in the batch did not).
    #[diesel(sql_type = SqlUuid)]
    token: Uuid,
}

async fn write_batch(db: &Database, batch: Vec<PendingEnd>) {
    if let [_] = batch.as_slice() {
        // A lone end: the single-row statement.
        end_each(db, batch).await;
        return;
    }
    match finish_many(db, &batch).await {
        Ok(landed) => {
            for p in batch {
                let done = if landed.contains(&(p.lease.job.as_uuid(), p.lease.token)) {
                    Ok(())
                } else {
                    Err(StoreError::LeaseLost)
                };
                drop(p.done.send(done));
            }
        }
        // Transient (the database is down, a deadlock): every end of the batch gets it, and
        // each run retries its own.
        Err(e) if e.is_transient() => {
            for p in batch {
                let again = match &e {
                    StoreError::Contention(m) => StoreError::Contention(m.clone()),
                    StoreError::Busy(m) => StoreError::Busy(m.clone()),
                    StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
                    other => StoreError::Unavailable(other.to_string()),
                };
                drop(p.done.send(Err(again)));
            }
        }
        // One bad row must not cost the others their end: each goes again on its own.
        Err(_) => end_each(db, batch).await,
    }
}

/// Each end of `batch` in its own transaction (the single-row statement), answered in turn.
async fn end_each(db: &Database, batch: Vec<PendingEnd>) {
    for p in batch {
        let (lease, end) = (p.lease, p.end);
        let done = db
            .as_system(move |conn| Box::pin(async move { end_job(conn, lease, &end, None).await }))
            .await;
        drop(p.done.send(done));
    }
}

/// One statement for the whole batch, as the system (a batch holds many users' jobs).
async fn finish_many(
    db: &Database,
    batch: &[PendingEnd],
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let mut c = Columns::default();
    for p in batch {
        let EndColumns {
            result,
            error,
            run_at,
            reask,
        } = end_columns(&p.end);
        c.id.push(p.lease.job.as_uuid());
        c.token.push(p.lease.token);
        c.status.push(p.end.status().as_str().to_owned());
        c.result.push(result.cloned());
        c.message.push(error.map(|e| e.message.clone()));
        c.class
            .push(error.map(|e| e.classification.as_str().to_owned()));
        c.run_at.push(run_at);
        c.reask.push(reask);
    }
    let landed: Vec<Landed> = db
        .as_system(move |conn| {
            Box::pin(async move {
                Ok(Prepared(
                    diesel::sql_query(FINISH_MANY_SQL)
                        .bind::<Array<SqlUuid>, _>(c.id)
                        .bind::<Array<SqlUuid>, _>(c.token)
                        .bind::<Array<Text>, _>(c.status)
                        .bind::<Array<Nullable<Jsonb>>, _>(c.result)
                        .bind::<Array<Nullable<Text>>, _>(c.message)
                        .bind::<Array<Nullable<Text>>, _>(c.class)
                        .bind::<Array<Nullable<Timestamptz>>, _>(c.run_at)
                        .bind::<Array<Nullable<Jsonb>>, _>(c.reask),
                )
                .load(conn)
                .await?)
            })
        })
        .await?;
    Ok(landed.into_iter().map(|l| (l.id, l.token)).collect())
}

#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    token: Vec<Uuid>,
    status: Vec<String>,
    result: Vec<Option<serde_json::Value>>,
    message: Vec<Option<String>>,
    class: Vec<Option<String>>,
    run_at: Vec<Option<DateTime<Utc>>>,
    reask: Vec<Option<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
    use syllabus_testkit::TestDb;
    use tokio::sync::oneshot;

    use super::write_batch;
    use crate::StoreError;
    use crate::finisher::PendingEnd;
    use crate::pool::{Database, PoolOptions};
    use crate::ports::QueueStore;
    use crate::records::{ClaimedJob, JobEnd, Lease};

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    #[derive(diesel::QueryableByName)]
    struct Status {
        #[diesel(sql_type = Text)]
        status: String,
    }

    async fn status(admin: &mut AsyncPgConnection, job: &ClaimedJob) -> Result<String, StoreError> {
        let row: Status = diesel::sql_query("SELECT status FROM jobs WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(job.lease.job.as_uuid())
            .get_result(admin)
            .await?;
        Ok(row.status)
    }

    fn pending(lease: Lease) -> (PendingEnd, oneshot::Receiver<Result<(), StoreError>>) {
        let (done, answer) = oneshot::channel();
        let end = JobEnd::Completed {
            result: serde_json::json!({"ok": true}),
        };
        (PendingEnd { lease, end, done }, answer)
    }

    /// Three ends in ONE batch statement, one of them by a run whose job was rescued and
    /// claimed again: that one is refused (`LeaseLost`) and changes nothing; the other two land
    /// (issue #22: batching keeps every end fenced by its own lease).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_stale_lease_in_a_batch_of_ends_is_refused_while_the_others_land() -> TestResult {
        let test = TestDb::new().await?;
        let mut admin = AsyncPgConnection::establish(test.admin_url()).await?;
        admin
            .batch_execute(
                "INSERT INTO users (id) VALUES ('ivy');
                 INSERT INTO jobs (id, user_id, job_type, payload, max_attempts)
                 SELECT gen_random_uuid(), 'ivy', 'skill_tree', '{}', 3 FROM generate_series(1, 3)",
            )
            .await?;
        let db = Database::connect(test.url(), PoolOptions::default())?;
        let runs = db.claim_many("w1", 3).await?;
        let [one, two, three] = [&runs[0], &runs[1], &runs[2]];
        // `two` is rescued and claimed again by another worker: its first lease is stale.
        diesel::sql_query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(two.lease.job.as_uuid())
            .execute(&mut admin)
            .await?;
        assert_eq!(
            db.rescue_stale(std::time::Duration::from_secs(60)).await?,
            1
        );
        let again = db.claim_many("w2", 3).await?;
        assert_eq!(again.len(), 1);

        let (p1, a1) = pending(one.lease);
        let (p2, a2) = pending(two.lease);
        let (p3, a3) = pending(three.lease);
        write_batch(&db, vec![p1, p2, p3]).await;
        assert!(matches!(a1.await?, Ok(())));
        assert!(
            matches!(a2.await?, Err(StoreError::LeaseLost)),
            "the stale end"
        );
        assert!(matches!(a3.await?, Ok(())));
        assert_eq!(status(&mut admin, one).await?, "completed");
        assert_eq!(status(&mut admin, three).await?, "completed");
        assert_eq!(
            status(&mut admin, two).await?,
            "processing",
            "the stale lease ended the job another worker holds"
        );
        // The live run still ends it.
        db.finish(again[0].lease, JobEnd::Cancelled, None).await?;
        assert_eq!(status(&mut admin, two).await?, "cancelled");
        Ok(())
    }
}
