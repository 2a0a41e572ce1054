//! The `webhook_delivery` handler (issue #23): one attempt of one delivery, ended with its
//! record in one transaction. No provider gate, rate limit or token budget: it calls no model.
//!
//! A delivery whose endpoint was deleted ends quietly (cancelled); one whose endpoint is
//! disabled, or whose window passed before it could run, fails without sending. Otherwise the
//! attempt is sent (signed, under the outbound rules) and recorded: a 2xx succeeds, anything else
//! comes back at the schedule's next gap, or fails once that is past the window. Logged: ids,
//! outcome, status code and attempt number; never the URL, the body or the answer.

use chrono::Utc;
use serde_json::json;
use syllabus_domain::webhooks::{DeliveryOutcome, DeliveryStatus};
use syllabus_domain::{FailureClass, JobStatus};
use syllabus_provider::webhook::Outgoing;
use syllabus_store::records::{
    ClaimedJob, DeliveryEnd, DeliveryTarget, JobEnd, JobError, WebhookAttempt,
};
use syllabus_store::{DeliveryStore, QueueStore, StoreError};
use uuid::Uuid;

use crate::context::Context;

/// Runs one attempt of `delivery` and ends the run with its record.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    delivery: Uuid,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + DeliveryStore,
{
    let Some(target) = ctx.store.delivery_target(delivery).await? else {
        // Deleted with its endpoint: nothing to send, nothing to say.
        return ctx.end_run(job, JobEnd::Cancelled).await;
    };
    if target.status != DeliveryStatus::Pending {
        return ctx
            .end_run(
                job,
                JobEnd::Completed {
                    result: json!({ "delivery_id": delivery, "status": target.status.as_str() }),
                },
            )
            .await;
    }
    let settings = ctx.webhooks.settings;
    if !target.enabled || Utc::now() > settings.schedule.deadline(target.created_at) {
        tracing::info!(
            webhook.id = %target.endpoint_id,
            delivery.id = %delivery,
            endpoint_enabled = target.enabled,
            "webhook delivery failed without sending"
        );
        return finish(ctx, job, &target, None, DeliveryEnd::Failed).await;
    }
    let Some(sender) = &ctx.webhooks.sender else {
        // The client could not be built at start-up (logged then): come back later.
        let at =
            Utc::now() + chrono::Duration::from_std(settings.schedule.gap(1)).unwrap_or_default();
        return finish(ctx, job, &target, None, DeliveryEnd::Retry { at }).await;
    };
    let attempted_at = Utc::now();
    let id = delivery.to_string();
    let sent = sender
        .send(Outgoing {
            url: &target.url,
            secret: &target.secret,
            id: &id,
            body: &target.body,
        })
        .await;
    let number = target.attempt_count + 1;
    let end = if sent.outcome == DeliveryOutcome::Success {
        DeliveryEnd::Succeeded
    } else {
        match settings
            .schedule
            .next_attempt(target.created_at, Utc::now(), number)
        {
            Some(at) => DeliveryEnd::Retry { at },
            None => DeliveryEnd::Failed,
        }
    };
    tracing::info!(
        webhook.id = %target.endpoint_id,
        delivery.id = %delivery,
        attempt = number,
        outcome = sent.outcome.as_str(),
        status_code = sent.status_code,
        duration_ms = sent.duration_ms,
        "webhook attempt"
    );
    let attempt = WebhookAttempt {
        attempted_at,
        status_code: sent.status_code,
        duration_ms: sent.duration_ms,
        outcome: sent.outcome,
        response_excerpt: sent.excerpt,
    };
    finish(ctx, job, &target, Some(attempt), end).await
}

/// Ends a delivery's run its handler could not end (a panic, an unexpected error, a give-up
/// after rescues) together with the delivery: a failed end fails it (which may disable its
/// endpoint), a retry makes it due when the job is. Whether it ended the run.
///
/// # Errors
/// The store's.
pub(crate) async fn end_interrupted<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    delivery: Uuid,
    end: JobEnd,
) -> Result<bool, StoreError>
where
    S: DeliveryStore,
{
    let delivery_end = match &end {
        JobEnd::Failed { .. } => DeliveryEnd::Failed,
        JobEnd::Retry { at, .. } => DeliveryEnd::Retry { at: *at },
        _ => return Ok(false),
    };
    let disabled = ctx
        .store
        .finish_delivery(job.lease, end, delivery, None, delivery_end)
        .await?;
    if let Some(reason) = disabled {
        tracing::warn!(delivery.id = %delivery, %reason, "webhook endpoint disabled");
    }
    Ok(true)
}

/// Ends the run and the delivery together; logs an endpoint disabled by this end.
async fn finish<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    target: &DeliveryTarget,
    attempt: Option<WebhookAttempt>,
    end: DeliveryEnd,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + DeliveryStore,
{
    let error = |message: String| JobError {
        message,
        classification: FailureClass::ProviderError,
    };
    let outcome = attempt.as_ref().map_or("none", |a| a.outcome.as_str());
    let job_end = match &end {
        DeliveryEnd::Succeeded => JobEnd::Completed {
            result: json!({ "delivery_id": target.id, "status": "succeeded" }),
        },
        DeliveryEnd::Retry { at } => JobEnd::Retry {
            at: *at,
            error: error(format!("The webhook attempt failed ({outcome}).")),
            reask: None,
        },
        DeliveryEnd::Failed => JobEnd::Failed {
            error: error("The webhook delivery failed.".to_owned()),
            reask: None,
        },
    };
    let status = job_end.status();
    let disabled = ctx
        .finishing(|| {
            ctx.store.finish_delivery(
                job.lease,
                job_end.clone(),
                target.id,
                attempt.clone(),
                end.clone(),
            )
        })
        .await?;
    if let Some(reason) = disabled {
        tracing::warn!(webhook.id = %target.endpoint_id, %reason, "webhook endpoint disabled");
    }
    Ok(status)
}
