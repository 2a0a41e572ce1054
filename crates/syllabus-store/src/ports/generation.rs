//! [`GenerationStore`]: what the plan-generation handler reads and writes.

use std::future::Future;

use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::{NormalizedPlan, PlanId, UserId};

use crate::error::StoreError;
use crate::records::{AttemptRecord, GenerationInput, JobEnd, Lease, NewAttempt, ProviderCall};

/// What the plan-generation handler reads and writes.
pub trait GenerationStore: Clone + Send + Sync + 'static {
    /// A run starts: reads the plan's request and what the next attempt needs, and deletes the
    /// previews a stopped run of the plan left (released, rescued), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is gone.
    fn read_input_clear_previews(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> impl Future<Output = Result<GenerationInput, StoreError>> + Send;

    /// Finishes a generation run in ONE transaction: the job's state (fenced by the lease), the
    /// attempt row and, on success, the plan's modules and tasks replacing earlier ones.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] (nothing is written); the store's errors.
    #[expect(
        clippy::too_many_arguments,
        reason = "one finishing write: its lease, owner, subject, content, end and call"
    )]
    fn finish_generation(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        attempt: NewAttempt,
        content: Option<NormalizedPlan>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<AttemptRecord, StoreError>> + Send;

    /// Shows a module of attempt `attempt_number` that has streamed in complete and valid, for
    /// the owner of `lease`'s job, while the run still holds `lease` (else nothing is written).
    /// Returns once it is committed: a NOTIFY then reaches the plan's event streams. The process
    /// writes the previews of all its runs in batches (one statement for what is queued). The
    /// previews of an attempt are deleted when [`GenerationStore::finish_generation`] records it.
    ///
    /// # Errors
    /// The store's errors (a preview is best effort: the caller logs and goes on).
    fn publish_preview(
        &self,
        lease: Lease,
        plan: PlanId,
        attempt_number: u32,
        index: usize,
        module: &NormalizedModule,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
