//! A plan stream's state: the cursor its event ids carry, what it last sent, and how a store
//! read or a notification turns into the events the client has not seen yet.

use std::collections::HashMap;

use syllabus_domain::{JobId, PlanStatus};
use syllabus_store::PlanEvent;
use syllabus_store::records::{PlanStreamState, ProgressRecord};

use super::sse::{Gone, Sse};
use crate::wire::{
    AttemptView, ModuleDraftEventView, ModuleEventView, PlanView, ProgressView, SkillEventView,
};

/// What a plan stream's client has seen: the attempt events of attempts `1..=attempts`, and the
/// first `previews` previews of attempt `attempts + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub(super) attempts: u32,
    pub(super) previews: u32,
}

impl Cursor {
    fn id(self) -> String {
        format!("{}.{}", self.attempts, self.previews)
    }

    /// A `Last-Event-ID` this server issued; anything else is ignored (a fresh start).
    pub(super) fn parse(raw: &str) -> Option<Self> {
        let (a, p) = raw.split_once('.')?;
        let attempts: u32 = a.parse().ok()?;
        let previews: u32 = p.parse().ok()?;
        (attempts <= syllabus_domain::AttemptCap::MAX
            && previews <= u32::try_from(syllabus_domain::plan::MAX_MODULES).unwrap_or(u32::MAX))
        .then_some(Self { attempts, previews })
    }
}

fn is_final(status: PlanStatus) -> bool {
    matches!(status, PlanStatus::Ready | PlanStatus::Failed)
}

/// Whether nothing will change `state` by itself: a final status, or a pending plan with no
/// generation job queued or running (until the user regenerates it, which a new stream follows).
fn is_settled(state: &PlanStreamState) -> bool {
    is_final(state.plan.status) || !state.generating
}

/// A plan's stream: its cursor and the last status sent.
pub(super) struct PlanStream {
    pub(super) cursor: Cursor,
    pub(super) status: Option<PlanStatus>,
    /// `?progress=true`: the stream stays open after the final status, for `progress` events,
    /// until the plan is deleted or the client leaves.
    pub(super) follow: bool,
    /// The progress last shown (in the first `status`, or by a `progress` event).
    pub(super) progress: Option<ProgressRecord>,
    /// The newest draft sent of each module regeneration in flight (issue #21), by job.
    pub(super) drafts: HashMap<JobId, u32>,
    /// The streamed skills sent (issue #24), by job, run and index: one is sent again only
    /// changed (a new run's are new).
    pub(super) skills: HashMap<(JobId, u32, u32), serde_json::Value>,
}

impl PlanStream {
    /// Sends what `state` shows beyond the cursor: attempts that ended, then the status when it
    /// changed (always on the first call: none was sent, and always when the stream ends), then
    /// the previews of the attempt in flight. `true` once nothing can change the plan by itself
    /// (the stream ends).
    pub(super) async fn catch_up(
        &mut self,
        sse: &Sse,
        state: PlanStreamState,
    ) -> Result<bool, Gone> {
        let settled = is_settled(&state);
        for attempt in state.attempts {
            let Some(number) = attempt.number else {
                continue;
            };
            if number <= self.cursor.attempts {
                continue;
            }
            self.cursor = Cursor {
                attempts: number,
                previews: 0,
            };
            sse.event("attempt", &self.cursor.id(), &AttemptView::from(attempt))
                .await?;
        }
        let status = state.plan.status;
        let progress = state.plan.progress;
        if self.status != Some(status) || (settled && !self.follow) {
            self.status = Some(status);
            self.progress = Some(progress);
            sse.event("status", &self.cursor.id(), &PlanView::summary(state.plan))
                .await?;
        } else if self.progress != Some(progress) {
            self.progress = Some(progress);
            sse.event("progress", &self.cursor.id(), &ProgressView::from(progress))
                .await?;
        }
        for draft in state.drafts {
            if self
                .drafts
                .get(&draft.job_id)
                .is_some_and(|&seq| seq >= draft.seq)
            {
                continue;
            }
            self.drafts.insert(draft.job_id, draft.seq);
            if let Some(view) = ModuleDraftEventView::from_record(draft) {
                sse.event("module_draft", &self.cursor.id(), &view).await?;
            }
        }
        for skill in state.skills {
            let key = (skill.job_id, skill.run, skill.index);
            if self.skills.get(&key) == Some(&skill.skill) {
                continue;
            }
            self.skills.insert(key, skill.skill.clone());
            if let Some(view) = SkillEventView::from_record(skill) {
                sse.event("skill", &self.cursor.id(), &view).await?;
            }
        }
        if settled {
            return Ok(!self.follow);
        }
        for preview in state.previews {
            // A preview that failed to publish leaves a gap: the next ones are still shown.
            if preview.attempt_number == self.cursor.attempts + 1
                && preview.index >= self.cursor.previews
            {
                self.preview(sse, preview.attempt_number, preview.index, &preview.module)
                    .await?;
            }
        }
        Ok(false)
    }

    pub(super) async fn preview(
        &mut self,
        sse: &Sse,
        attempt_number: u32,
        index: u32,
        module: &serde_json::Value,
    ) -> Result<(), Gone> {
        self.cursor.previews = index + 1;
        let data = ModuleEventView {
            attempt_number,
            index,
            module,
        };
        sse.event("module", &self.cursor.id(), &data).await
    }

    /// Whether `event` can be sent as it is (the next preview of the attempt in flight), needs a
    /// re-read (anything else that may change what the client sees), or is old news.
    pub(super) fn triage(event: &PlanEvent, cursor: Cursor) -> Triage<'_> {
        match event {
            PlanEvent::Preview {
                attempt_number,
                index,
                module,
            } if *attempt_number == cursor.attempts + 1 => {
                // In commit order (a lag is a re-read first), so an index past the next one is
                // a gap left by a preview that failed to publish, not one still to come.
                if *index < cursor.previews {
                    Triage::Seen
                } else {
                    Triage::Send(*attempt_number, *index, module)
                }
            }
            PlanEvent::Preview { attempt_number, .. } if *attempt_number <= cursor.attempts => {
                Triage::Seen
            }
            _ => Triage::Reread,
        }
    }
}

pub(super) enum Triage<'a> {
    /// The next preview: attempt number, index, module.
    Send(u32, u32, &'a serde_json::Value),
    Reread,
    Seen,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ids_are_ignored() {
        let c = Cursor {
            attempts: 2,
            previews: 5,
        };
        assert_eq!(Cursor::parse(&c.id()), Some(c));
        for bad in [
            "",
            "3",
            "a.b",
            "1.-1",
            "4.0",
            "0.25",
            "1.2.3",
            "1700000000000000",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
