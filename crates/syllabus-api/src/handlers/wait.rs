//! `Prefer: wait=N` on a read: hold the answer until the resource's state moves on.

use std::time::Duration;

use syllabus_store::Wakeups;

use super::support::Result;
use crate::limits::HeldSlot;

/// Waits until `changed` says the resource's state moved on, `settled` says nothing can change
/// it any more, `wait` passes, or the process starts stopping (`slot`'s gates close). Each
/// wake-up (an event about this resource only, or a resync after the listener reconnected)
/// re-reads it.
pub(super) async fn hold<T>(
    mut wakeups: Wakeups,
    wait: Duration,
    slot: Option<HeldSlot>,
    mut current: T,
    mut reread: impl AsyncFnMut() -> Result<T>,
    changed: impl Fn(&T, &T) -> bool,
    settled: impl Fn(&T) -> bool,
) -> Result<T> {
    let Some(slot) = slot else {
        return Ok(current);
    };
    let deadline = tokio::time::Instant::now() + wait;
    let closing = slot.closing();
    tokio::pin!(closing);
    while !settled(&current) {
        tokio::select! {
            woken = tokio::time::timeout_at(deadline, wakeups.changed()) => {
                if woken.is_err() {
                    break;
                }
            }
            // Answered with the state as it is: the client asks again (elsewhere).
            () = &mut closing => break,
        }
        let next = reread().await?;
        if changed(&current, &next) {
            return Ok(next);
        }
        current = next;
    }
    Ok(current)
}

/// Says that the wait was applied (`Preference-Applied: wait=N`) when there was one.
pub(super) fn preference_applied(res: &mut actix_web::HttpResponseBuilder, wait: Option<Duration>) {
    if let Some(w) = wait {
        res.insert_header(("Preference-Applied", format!("wait={}", w.as_secs())));
    }
}
