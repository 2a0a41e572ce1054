//! The preview reader: one per process that streams plans. It hands what the listener routed to
//! the plans' streams in the order PostgreSQL delivered it, reading the previews among it back
//! from `plan_previews` a batch per transaction, as the user each stream serves (row-level
//! security applies), or from the modules the attempt stored when its previews are gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{PlanId, UserId};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::routes::{Hub, PlanEvent, PreviewKey, Routed};
use crate::error::StoreError;

/// Items waiting for the reader before new ones make their streams re-read instead.
pub(super) const READ_QUEUE: usize = 4_096;
/// Most previews read by one transaction.
const READ_BATCH: usize = 512;
/// How long a read may take before its connection is dropped (and its streams re-read).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(QueryableByName)]
struct KeyedPreviewRow {
    #[diesel(sql_type = SqlUuid)]
    plan_id: Uuid,
    #[diesel(sql_type = Integer)]
    attempt_number: i32,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
}

impl KeyedPreviewRow {
    fn into_entry(self) -> (PreviewKey, Arc<serde_json::Value>) {
        let key = PreviewKey {
            plan: PlanId::from_uuid(self.plan_id),
            attempt_number: u32::try_from(self.attempt_number).unwrap_or(0),
            index: u32::try_from(self.position).unwrap_or(0),
        };
        (key, Arc::new(self.module))
    }
}

/// The stored modules at the previews' indexes, for previews of the plan's latest successful
/// attempt (whose finishing transaction replaced the previews with them), in the previews' form
/// (`PreviewRecord::module_json`: a Module without ids).
const STORED_MODULES: &str = "
    SELECT k.plan_id, k.attempt_number, k.position,
           jsonb_build_object(
               'order', m.position, 'title', m.title, 'description', m.description,
               'estimated_minutes', m.estimated_minutes,
               'tasks', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                      'order', t.position, 'title', t.title,
                                      'description', t.description,
                                      'estimated_minutes', t.estimated_minutes)
                                  ORDER BY t.position)
                                  FROM tasks t WHERE t.module_id = m.id), '[]'::jsonb)) AS module
    FROM unnest($1::uuid[], $2::int[], $3::int[]) AS k(plan_id, attempt_number, position)
    JOIN modules m ON m.plan_id = k.plan_id AND m.position = k.position + 1
    WHERE k.attempt_number = (SELECT max(a.number) FROM generation_attempts a
                              WHERE a.plan_id = k.plan_id AND a.status = 'success')";

/// The previews a batch asks for, per user.
type Wanted = Vec<(UserId, Vec<PreviewKey>)>;
/// What was found, in the same order as [`Wanted`].
type Found = Vec<HashMap<PreviewKey, Arc<serde_json::Value>>>;

/// Hands the listener's items to the plans' streams in order, reading the previews among them
/// a batch per transaction, each for the user its stream serves. A preview that cannot be read
/// (its attempt failed and took it; the database failing) makes those streams re-read instead.
pub(super) async fn read_previews(url: String, hub: Arc<Hub>, mut items: mpsc::Receiver<Routed>) {
    let mut conn: Option<AsyncPgConnection> = None;
    let mut batch = Vec::with_capacity(READ_BATCH);
    while items.recv_many(&mut batch, READ_BATCH).await > 0 {
        let mut by_user: HashMap<UserId, Vec<PreviewKey>> = HashMap::new();
        for item in &batch {
            if let Routed::Preview(key) = *item {
                for user in hub.watchers(key.plan) {
                    by_user.entry(user).or_default().push(key);
                }
            }
        }
        let wanted: Wanted = by_user.into_iter().collect();
        let found = if wanted.is_empty() {
            Some(Vec::new())
        } else {
            match tokio::time::timeout(READ_TIMEOUT, read_batch(&url, &mut conn, &wanted)).await {
                Ok(Ok(found)) => Some(found),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "module previews could not be read; streams re-read");
                    conn = None;
                    None
                }
                Err(_) => {
                    tracing::warn!("reading module previews timed out; streams re-read");
                    conn = None;
                    None
                }
            }
        };
        for item in batch.drain(..) {
            match item {
                Routed::Job(plan, status) => hub.send(plan, None, &PlanEvent::Job(status)),
                Routed::Deleted(plan) => hub.send(plan, None, &PlanEvent::Resync),
                Routed::Progress(plan) => hub.send(plan, None, &PlanEvent::Progress),
                Routed::Draft(plan) => hub.send(plan, None, &PlanEvent::Draft),
                Routed::Preview(key) => {
                    for (i, (user, keys)) in wanted.iter().enumerate() {
                        if !keys.contains(&key) {
                            continue;
                        }
                        let event = match found.as_ref().and_then(|f| f.get(i)?.get(&key)) {
                            Some(module) => PlanEvent::Preview {
                                attempt_number: key.attempt_number,
                                index: key.index,
                                module: Arc::clone(module),
                            },
                            None => PlanEvent::Resync,
                        };
                        hub.send(key.plan, Some(user), &event);
                    }
                }
            }
        }
    }
}

/// One transaction: for each user, the previews named, read as that user (row-level security
/// shows a user only the previews of their own plans).
async fn read_batch(
    url: &str,
    conn: &mut Option<AsyncPgConnection>,
    wanted: &Wanted,
) -> Result<Found, StoreError> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(
            AsyncPgConnection::establish(url)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        ),
    };
    conn.transaction::<Found, StoreError, _>(async move |conn| {
        let mut found = Vec::with_capacity(wanted.len());
        for (user, keys) in wanted {
            diesel::sql_query("SELECT set_config('syllabus.user_id', $1, true)")
                .bind::<Text, _>(user.as_str())
                .execute(conn)
                .await?;
            let plans: Vec<Uuid> = keys.iter().map(|k| k.plan.as_uuid()).collect();
            let attempts: Vec<i32> = keys
                .iter()
                .map(|k| i32::try_from(k.attempt_number).unwrap_or(i32::MAX))
                .collect();
            let positions: Vec<i32> = keys
                .iter()
                .map(|k| i32::try_from(k.index).unwrap_or(i32::MAX))
                .collect();
            let rows: Vec<KeyedPreviewRow> = diesel::sql_query(
                "SELECT p.plan_id, p.attempt_number, p.position, p.module
                 FROM plan_previews p
                 JOIN unnest($1::uuid[], $2::int[], $3::int[]) AS k(plan_id, attempt_number, position)
                   ON p.plan_id = k.plan_id AND p.attempt_number = k.attempt_number
                  AND p.position = k.position",
            )
            .bind::<Array<SqlUuid>, _>(&plans)
            .bind::<Array<Integer>, _>(&attempts)
            .bind::<Array<Integer>, _>(&positions)
            .load(conn)
            .await?;
            let mut these: HashMap<PreviewKey, Arc<serde_json::Value>> =
                rows.into_iter().map(KeyedPreviewRow::into_entry).collect();
            if these.len() < keys.len() {
                // Gone: the attempt ended meanwhile. When it succeeded, its modules are stored,
                // and each is what its preview showed.
                let stored: Vec<KeyedPreviewRow> = diesel::sql_query(STORED_MODULES)
                    .bind::<Array<SqlUuid>, _>(&plans)
                    .bind::<Array<Integer>, _>(&attempts)
                    .bind::<Array<Integer>, _>(&positions)
                    .load(conn)
                    .await?;
                for (key, module) in stored.into_iter().map(KeyedPreviewRow::into_entry) {
                    these.entry(key).or_insert(module);
                }
            }
            found.push(these);
        }
        Ok(found)
    })
    .await
}
