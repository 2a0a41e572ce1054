//! [`DeliveryStore`](crate::ports::DeliveryStore) on [`Database`]: what a webhook delivery's
//! run reads, and its end: the job's fenced end, the attempt, the delivery's and the endpoint's
//! state in one transaction (issue #23).

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::QueryableByName;
use diesel::sql_types::{Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use syllabus_domain::webhooks::DeliveryStatus;
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::{DeliveryEnd, DeliveryTarget, Disabled, JobEnd, Lease, WebhookAttempt};
use crate::rows::webhooks::TargetRow;
use crate::sql::job_writes::end_job;

#[derive(QueryableByName)]
struct Ended {
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first_attempt_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Reason {
    #[diesel(sql_type = Text)]
    disabled_reason: String,
}

impl crate::ports::DeliveryStore for Database {
    async fn delivery_target(&self, delivery: Uuid) -> Result<Option<DeliveryTarget>, StoreError> {
        self.as_system(move |conn| {
            Box::pin(async move {
                let row: Option<TargetRow> = diesel::sql_query(
                    "SELECT d.id, d.user_id, d.endpoint_id, e.url, e.secret, e.enabled, d.body,
                            d.status, d.created_at, d.attempt_count
                     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                     WHERE d.id = $1",
                )
                .bind::<SqlUuid, _>(delivery)
                .get_result(conn)
                .await
                .optional()?;
                row.map(TargetRow::into_record).transpose()
            })
        })
        .await
    }

    async fn finish_delivery(
        &self,
        lease: Lease,
        job_end: JobEnd,
        delivery: Uuid,
        attempt: Option<WebhookAttempt>,
        end: DeliveryEnd,
    ) -> Result<Disabled, StoreError> {
        self.as_system(move |conn| {
            Box::pin(async move {
                // First, fenced: a run whose job was rescued writes nothing.
                end_job(conn, lease, &job_end, None).await?;
                // The endpoint's row before the delivery's, as a delete of the endpoint locks
                // them (its cascade): the two never wait on each other in a circle.
                let endpoint: Option<Ended> = diesel::sql_query(
                    "SELECT e.id AS endpoint_id, d.first_attempt_at
                     FROM webhook_endpoints e JOIN webhook_deliveries d ON d.endpoint_id = e.id
                     WHERE d.id = $1
                     FOR NO KEY UPDATE OF e",
                )
                .bind::<SqlUuid, _>(delivery)
                .get_result(conn)
                .await
                .optional()?;
                let Some(endpoint) = endpoint else {
                    // Deleted with its endpoint while the run was sending: nothing to record.
                    return Ok(None);
                };
                if let Some(a) = &attempt {
                    diesel::sql_query(
                        "INSERT INTO webhook_attempts (delivery_id, user_id, attempted_at,
                             status_code, duration_ms, outcome, response_excerpt)
                         SELECT id, user_id, $2, $3, $4, $5, $6
                         FROM webhook_deliveries WHERE id = $1",
                    )
                    .bind::<SqlUuid, _>(delivery)
                    .bind::<Timestamptz, _>(a.attempted_at)
                    .bind::<Nullable<SmallInt>, _>(
                        a.status_code.and_then(|c| i16::try_from(c).ok()),
                    )
                    .bind::<Integer, _>(i32::try_from(a.duration_ms).unwrap_or(i32::MAX))
                    .bind::<Text, _>(a.outcome.as_str())
                    .bind::<Nullable<Text>, _>(a.response_excerpt.as_deref())
                    .execute(conn)
                    .await?;
                }
                let (status, next) = match &end {
                    DeliveryEnd::Succeeded => (DeliveryStatus::Succeeded, None),
                    DeliveryEnd::Retry { at } => (DeliveryStatus::Pending, Some(*at)),
                    DeliveryEnd::Failed => (DeliveryStatus::Failed, None),
                };
                let first = attempt
                    .as_ref()
                    .map(|a| a.attempted_at)
                    .or(endpoint.first_attempt_at);
                diesel::sql_query(
                    "UPDATE webhook_deliveries SET
                        attempt_count = attempt_count + $2,
                        first_attempt_at = coalesce(first_attempt_at, $3),
                        status = $4, next_attempt_at = $5,
                        ended_at = CASE WHEN $4 = 'pending' THEN NULL ELSE now() END
                     WHERE id = $1",
                )
                .bind::<SqlUuid, _>(delivery)
                .bind::<Integer, _>(i32::from(attempt.is_some()))
                .bind::<Nullable<Timestamptz>, _>(first)
                .bind::<Text, _>(status.as_str())
                .bind::<Nullable<Timestamptz>, _>(next)
                .execute(conn)
                .await?;
                match end {
                    DeliveryEnd::Succeeded => {
                        diesel::sql_query(
                            "UPDATE webhook_endpoints SET healthy_at = now() WHERE id = $1",
                        )
                        .bind::<SqlUuid, _>(endpoint.endpoint_id)
                        .execute(conn)
                        .await?;
                        Ok(None)
                    }
                    DeliveryEnd::Retry { .. } => Ok(None),
                    DeliveryEnd::Failed => {
                        // Only a delivery that was attempted counts; one whose endpoint was
                        // already disabled (or whose window passed unattempted) does not.
                        let Some(first) = endpoint.first_attempt_at.or(first) else {
                            return Ok(None);
                        };
                        let reason: Option<Reason> = diesel::sql_query(
                            "UPDATE webhook_endpoints SET enabled = false,
                                disabled_reason = 'deliveries failing since '
                                    || to_char($2 AT TIME ZONE 'UTC',
                                               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                                updated_at = now()
                             WHERE id = $1 AND enabled
                               AND (healthy_at IS NULL OR healthy_at < $2)
                             RETURNING disabled_reason",
                        )
                        .bind::<SqlUuid, _>(endpoint.endpoint_id)
                        .bind::<Timestamptz, _>(first)
                        .get_result(conn)
                        .await
                        .map(Some)
                        .or_else(|e| match e {
                            diesel::result::Error::NotFound => Ok(None),
                            other => Err(other),
                        })?;
                        Ok(reason.map(|r| r.disabled_reason))
                    }
                }
            })
        })
        .await
    }
}
