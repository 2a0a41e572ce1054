//! Job events from PostgreSQL `LISTEN/NOTIFY`, fanned out in-process.
//!
//! One dedicated connection per process listens on `syllabus_jobs` (sent by a trigger inside
//! every transaction that creates a job or changes its status). When the connection drops, the
//! listener reconnects and broadcasts [`JobEvent::Resync`], since notifications sent meanwhile
//! are lost: waiters re-read the state and workers poll.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use serde::Deserialize;
use syllabus_domain::{JobId, JobStatus, JobType, PlanId};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::records::JobEvent;

/// The channel the trigger notifies.
pub const JOBS_CHANNEL: &str = "syllabus_jobs";

/// A process-wide source of job events. Dropping the last clone stops the listener.
#[derive(Clone, Debug)]
pub struct JobEvents {
    tx: broadcast::Sender<JobEvent>,
    _task: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Deserialize)]
struct Payload {
    id: Uuid,
    plan_id: Option<Uuid>,
    status: String,
    #[serde(rename = "type")]
    job_type: String,
}

fn parse(payload: &str) -> Option<JobEvent> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    Some(JobEvent::Changed {
        id: JobId::from_uuid(p.id),
        plan_id: p.plan_id.map(PlanId::from_uuid),
        status: p.status.parse::<JobStatus>().ok()?,
        job_type: p.job_type.parse::<JobType>().ok()?,
    })
}

impl JobEvents {
    /// Starts listening on `database_url`; waits up to `ready_within` for the first `LISTEN` to
    /// be in place (and keeps retrying in the background if the database is not there yet).
    pub async fn start(database_url: &str, ready_within: Duration) -> Self {
        let (tx, _) = broadcast::channel(1024);
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(listen_forever(
            database_url.to_owned(),
            tx.clone(),
            ready_tx,
        ));
        let _ready = tokio::time::timeout(ready_within, ready_rx).await;
        Self {
            tx,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// A receiver of every event from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }
}

async fn listen_forever(url: String, tx: broadcast::Sender<JobEvent>, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(100);
    loop {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                let listened = diesel::sql_query(format!("LISTEN {JOBS_CHANNEL}"))
                    .execute(&mut conn)
                    .await;
                if let Err(e) = listened {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                } else {
                    delay = Duration::from_millis(100);
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    let _ = tx.send(JobEvent::Resync);
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(n) => {
                                if let Some(event) = parse(&n.payload) {
                                    let _ = tx.send(event);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "job event listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job event listener cannot connect; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_trigger_payload() {
        let id = Uuid::now_v7();
        let text = format!(
            r#"{{"id" : "{id}", "plan_id" : null, "status" : "pending", "type" : "plan_generation"}}"#
        );
        assert_eq!(
            parse(&text),
            Some(JobEvent::Changed {
                id: JobId::from_uuid(id),
                plan_id: None,
                status: JobStatus::Pending,
                job_type: JobType::PlanGeneration,
            })
        );
        assert_eq!(parse(r#"{"id":"x"}"#), None);
    }
}
