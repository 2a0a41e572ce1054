//! [`WebhookStore`](crate::ports::WebhookStore) on [`Database`]: a user's webhook endpoints,
//! created under the per-user limit (and an idempotency key), changed, deleted, tested, and
//! their deliveries read with their attempts (issue #23).

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::UserId;
use syllabus_domain::webhooks::WebhookEvent;
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::{
    CreatedEndpoint, DeliveryRecord, EndpointChanges, EndpointRecord, Idempotency, Keyed,
    NewEndpoint, Page, PageRequest,
};
use crate::rows::webhooks::{AttemptRow, DeliveryRow, ENDPOINT_COLUMNS, EndpointRow};
use crate::sql::idempotency;
use crate::sql::users::{UserRow, record_user};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Enabled {
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Bool)]
    testing: bool,
}

fn names(events: &[WebhookEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.as_str()).collect()
}

async fn endpoint_row(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: Uuid,
) -> Result<EndpointRecord, StoreError> {
    let row: EndpointRow = diesel::sql_query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND user_id = $2"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(user.as_str())
    .get_result(conn)
    .await?;
    row.into_record()
}

async fn create(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    row: UserRow,
    endpoint: &NewEndpoint,
    max: u32,
) -> Result<CreatedEndpoint, StoreError> {
    record_user(conn, user, row).await?;
    // One create at a time per user, so that two cannot both pass the count.
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(format!("webhooks:{user}"))
        .execute(conn)
        .await?;
    let have: Count =
        diesel::sql_query("SELECT count(*) AS n FROM webhook_endpoints WHERE user_id = $1")
            .bind::<Text, _>(user.as_str())
            .get_result(conn)
            .await?;
    if have.n >= i64::from(max) {
        return Err(StoreError::WebhookLimit);
    }
    let row: EndpointRow = diesel::sql_query(format!(
        "INSERT INTO webhook_endpoints (id, user_id, url, secret, events, description)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(user.as_str())
    .bind::<Text, _>(&endpoint.url)
    .bind::<Text, _>(&endpoint.secret)
    .bind::<Array<Text>, _>(names(&endpoint.events))
    .bind::<Nullable<Text>, _>(endpoint.description.as_deref())
    .get_result(conn)
    .await?;
    Ok(CreatedEndpoint {
        endpoint: row.into_record()?,
        secret: endpoint.secret.clone(),
    })
}

impl crate::ports::WebhookStore for Database {
    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn create_endpoint(
        &self,
        user: &UserId,
        endpoint: &NewEndpoint,
        max: u32,
        idem: Option<Idempotency<CreatedEndpoint>>,
    ) -> Result<Keyed<CreatedEndpoint>, StoreError> {
        let owner = user.clone();
        let endpoint = endpoint.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                if let Some(answer) = idempotency::claim(conn, &owner, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                let made = create(conn, &owner, user_row, &endpoint, max).await?;
                idempotency::finish(conn, &owner, idem, made).await
            })
        })
        .await
    }

    async fn endpoints(&self, user: &UserId) -> Result<Vec<EndpointRecord>, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let rows: Vec<EndpointRow> = diesel::sql_query(format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE user_id = $1
                     ORDER BY created_at DESC, id DESC"
                ))
                .bind::<Text, _>(owner.as_str())
                .load(conn)
                .await?;
                rows.into_iter().map(EndpointRow::into_record).collect()
            })
        })
        .await
    }

    async fn endpoint(&self, user: &UserId, id: Uuid) -> Result<EndpointRecord, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move { endpoint_row(conn, &owner, id).await })
        })
        .await
    }

    async fn update_endpoint(
        &self,
        user: &UserId,
        id: Uuid,
        changes: &EndpointChanges,
    ) -> Result<EndpointRecord, StoreError> {
        let owner = user.clone();
        let changes = changes.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Enabling clears the reason and the failure streak (it is healthy from now);
                // disabling by hand says so.
                let row: EndpointRow = diesel::sql_query(format!(
                    "UPDATE webhook_endpoints SET
                        events = coalesce($3, events),
                        enabled = coalesce($4, enabled),
                        disabled_reason = CASE
                            WHEN $4 IS NULL THEN disabled_reason
                            WHEN $4 THEN NULL
                            WHEN enabled THEN 'disabled by its owner'
                            ELSE disabled_reason END,
                        healthy_at = CASE WHEN $4 AND NOT enabled THEN now() ELSE healthy_at END,
                        updated_at = now()
                     WHERE id = $1 AND user_id = $2
                     RETURNING {ENDPOINT_COLUMNS}"
                ))
                .bind::<SqlUuid, _>(id)
                .bind::<Text, _>(owner.as_str())
                .bind::<Nullable<Array<Text>>, _>(changes.events.as_deref().map(names))
                .bind::<Nullable<Bool>, _>(changes.enabled)
                .get_result(conn)
                .await?;
                row.into_record()
            })
        })
        .await
    }

    async fn delete_endpoint(&self, user: &UserId, id: Uuid) -> Result<(), StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let n = diesel::sql_query(
                    "DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<Text, _>(owner.as_str())
                .execute(conn)
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
        })
        .await
    }

    async fn queue_test(&self, user: &UserId, id: Uuid) -> Result<Uuid, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // `NO KEY UPDATE`: two tests of one endpoint queue one after the other (the
                // job-end trigger's `KEY SHARE` is not held up by it).
                let found: Enabled = diesel::sql_query(
                    "SELECT enabled, EXISTS (
                         SELECT 1 FROM webhook_deliveries
                         WHERE endpoint_id = $1 AND status = 'pending'
                           AND event_type = 'webhook.test') AS testing
                     FROM webhook_endpoints WHERE id = $1 AND user_id = $2
                     FOR NO KEY UPDATE",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<Text, _>(owner.as_str())
                .get_result(conn)
                .await?;
                if !found.enabled {
                    return Err(StoreError::InvalidState(
                        "the endpoint is disabled: enable it first".into(),
                    ));
                }
                // One test in flight per endpoint: tests cannot pile up retrying deliveries.
                if found.testing {
                    return Err(StoreError::InvalidState(
                        "a test event to this endpoint is still being delivered".into(),
                    ));
                }
                let delivery = Uuid::now_v7();
                // As the trigger of migration 000019 queues an event's delivery, for this
                // endpoint only.
                diesel::sql_query(
                    "WITH d AS (
                        INSERT INTO webhook_deliveries
                            (id, endpoint_id, user_id, event_type, body, next_attempt_at)
                        VALUES ($1, $2, $3, 'webhook.test',
                                json_build_object('type', 'webhook.test', 'timestamp',
                                    to_char(now() AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                                    'data', json_build_object('endpoint_id', $2::uuid))::text,
                                now())
                        RETURNING id)
                     INSERT INTO jobs (id, user_id, job_type, payload, max_attempts, priority,
                                       created_at, run_at, updated_at)
                     SELECT $4, $3, 'webhook_delivery', jsonb_build_object('delivery_id', d.id),
                            10000, 0, now(), now(), now()
                     FROM d",
                )
                .bind::<SqlUuid, _>(delivery)
                .bind::<SqlUuid, _>(id)
                .bind::<Text, _>(owner.as_str())
                .bind::<SqlUuid, _>(Uuid::now_v7())
                .execute(conn)
                .await?;
                Ok(delivery)
            })
        })
        .await
    }

    async fn deliveries(
        &self,
        user: &UserId,
        endpoint: Uuid,
        page: PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                endpoint_row(conn, &owner, endpoint).await?;
                let rows: Vec<DeliveryRow> = diesel::sql_query(
                    "SELECT id, event_type, status, attempt_count, created_at, next_attempt_at,
                            ended_at
                     FROM webhook_deliveries
                     WHERE endpoint_id = $1 AND user_id = $2 AND ($3::uuid IS NULL OR id < $3)
                     ORDER BY id DESC LIMIT $4",
                )
                .bind::<SqlUuid, _>(endpoint)
                .bind::<Text, _>(owner.as_str())
                .bind::<Nullable<SqlUuid>, _>(page.after)
                .bind::<BigInt, _>(page.fetch())
                .load(conn)
                .await?;
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                let attempts: Vec<AttemptRow> = diesel::sql_query(
                    "SELECT delivery_id, attempted_at, status_code, duration_ms, outcome,
                            response_excerpt
                     FROM webhook_attempts WHERE delivery_id = ANY($1)
                     ORDER BY delivery_id, attempted_at, id",
                )
                .bind::<Array<SqlUuid>, _>(ids)
                .load(conn)
                .await?;
                let mut by_delivery: std::collections::HashMap<Uuid, Vec<_>> =
                    std::collections::HashMap::new();
                for a in attempts {
                    by_delivery
                        .entry(a.delivery_id)
                        .or_default()
                        .push(a.into_record()?);
                }
                let items = rows
                    .into_iter()
                    .map(|row| {
                        let attempts = by_delivery.remove(&row.id).unwrap_or_default();
                        row.into_record(attempts)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_fetched(items, page.size(), |d| d.id))
            })
        })
        .await
    }
}
