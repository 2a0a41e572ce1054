//! Module previews of attempts in flight (issue #11): the writers behind the process-wide
//! [`Publisher`] that batch what every run of the process shows, the read for the plans' event
//! streams, and the clearing by runs.

use diesel::sql_types::{Array, Integer, Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Database;
use crate::publisher::{NewPreview, Pending, Publisher};
use crate::records::PreviewRecord;
use crate::rows::previews::PreviewRow;

/// Most previews written by one statement.
const MAX_BATCH: usize = 512;
/// Most statements writing previews at once, per process.
const MAX_WRITERS: usize = 4;

/// Starts the writers of `db`'s [`Publisher`] on the current runtime; they stop when the last
/// handle is dropped.
pub(crate) fn start_publisher(db: Database) -> Publisher {
    let (publisher, rx) = Publisher::channel();
    tokio::spawn(crate::batches::write_batches(
        db,
        rx,
        MAX_WRITERS,
        MAX_BATCH,
        |db, batch| async move { write_batch(&db, batch).await },
    ));
    publisher
}

async fn write_batch(db: &Database, batch: Vec<Pending>) {
    let rows: Vec<NewPreview> = batch.iter().map(|p| p.preview.clone()).collect();
    match insert(db, rows).await {
        Ok(()) => batch.into_iter().for_each(|p| drop(p.shown.send(Ok(())))),
        // One bad row (its plan deleted under it) must not cost the others their preview: each
        // goes again on its own. A database that is down fails them all at once.
        Err(e) if batch.len() > 1 && !e.is_transient() => {
            for p in batch {
                let shown = insert(db, vec![p.preview]).await;
                drop(p.shown.send(shown));
            }
        }
        // Transient (the database is down, a deadlock): every preview of the batch gets it.
        // A batch of one keeps its own error.
        Err(e) => {
            let mut batch = batch;
            let last = batch.pop();
            for p in batch {
                let again = match &e {
                    StoreError::Contention(m) => StoreError::Contention(m.clone()),
                    StoreError::Busy(m) => StoreError::Busy(m.clone()),
                    StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
                    other => StoreError::Unavailable(other.to_string()),
                };
                drop(p.shown.send(Err(again)));
            }
            if let Some(p) = last {
                drop(p.shown.send(Err(e)));
            }
        }
    }
}

/// One statement for `rows`, as the system (a batch holds many users' rows): each row is
/// written for its job's owner and only while that job's run holds its lease, so a run
/// cancelled mid-batch leaves nothing behind its attempt's record. The table is unlogged and
/// its rows disposable: the commit does not wait for a WAL flush.
async fn insert(db: &Database, rows: Vec<NewPreview>) -> Result<(), StoreError> {
    let mut columns = Columns::default();
    for row in rows {
        columns.job.push(row.job);
        columns.lease.push(row.lease);
        columns.plan.push(row.plan);
        columns.attempt.push(row.attempt_number);
        columns.position.push(row.position);
        columns.module.push(row.module);
    }
    db.as_system(move |conn| {
        Box::pin(async move {
            diesel::sql_query("SELECT set_config('synchronous_commit', 'off', true)")
                .execute(conn)
                .await?;
            diesel::sql_query(
                "INSERT INTO plan_previews (plan_id, attempt_number, position, user_id, module)
                 SELECT j.plan_id, p.attempt, p.position, j.user_id, p.module
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::int[],
                             $6::jsonb[]) AS p(job, lease, plan, attempt, position, module)
                 JOIN jobs j ON j.id = p.job AND j.lease_token = p.lease
                            AND j.status = 'processing' AND j.plan_id = p.plan
                 ON CONFLICT (plan_id, attempt_number, position)
                     DO UPDATE SET module = EXCLUDED.module, created_at = now()",
            )
            .bind::<Array<SqlUuid>, _>(columns.job)
            .bind::<Array<SqlUuid>, _>(columns.lease)
            .bind::<Array<SqlUuid>, _>(columns.plan)
            .bind::<Array<Integer>, _>(columns.attempt)
            .bind::<Array<Integer>, _>(columns.position)
            .bind::<Array<Jsonb>, _>(columns.module)
            .execute(conn)
            .await?;
            Ok(())
        })
    })
    .await
}

#[derive(Default)]
struct Columns {
    job: Vec<Uuid>,
    lease: Vec<Uuid>,
    plan: Vec<Uuid>,
    attempt: Vec<i32>,
    position: Vec<i32>,
    module: Vec<serde_json::Value>,
}

/// The previews of `attempt_number`, by index.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    attempt_number: u32,
) -> Result<Vec<PreviewRecord>, StoreError> {
    let rows: Vec<PreviewRow> = diesel::sql_query(
        "SELECT attempt_number, position, module FROM plan_previews
         WHERE plan_id = $1 AND attempt_number = $2 ORDER BY position",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<Integer, _>(i32::try_from(attempt_number).unwrap_or(i32::MAX))
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(PreviewRow::into_record).collect())
}

/// Deletes the plan's previews (in the transaction that records an attempt).
pub(crate) async fn clear(conn: &mut AsyncPgConnection, plan: Uuid) -> Result<(), StoreError> {
    diesel::sql_query("DELETE FROM plan_previews WHERE plan_id = $1")
        .bind::<SqlUuid, _>(plan)
        .execute(conn)
        .await?;
    Ok(())
}
