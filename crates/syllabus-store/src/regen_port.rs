//! The port of the module regeneration handler (issue #21), beside [`crate::ports`]: what a
//! `module_regeneration` run reads, the drafts it shows, and the one transaction that ends it.

use std::future::Future;

use syllabus_domain::UserId;
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::regen::ModuleDraft;

use crate::error::StoreError;
use crate::records::{JobEnd, Lease, ModuleJobInput, ModuleTarget, NewAttempt, ProviderCall};

/// What the module regeneration handler reads and writes.
pub trait ModuleJobStore: Clone + Send + Sync + 'static {
    /// A run starts: the plan's request, the module as it is, the plan's other module titles
    /// and the issues to re-ask with (of the job's newest attempt, when it failed validation);
    /// a draft a stopped run of the job left is deleted. `None` when the module is gone.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is gone.
    fn module_input(
        &self,
        lease: Lease,
        user: &UserId,
        target: ModuleTarget,
    ) -> impl Future<Output = Result<Option<ModuleJobInput>, StoreError>> + Send;

    /// Shows the module so far (its `seq`-th draft) on the plan's event streams, while the run
    /// holds `lease` (else nothing is written). Returns once committed.
    ///
    /// # Errors
    /// The store's errors (a draft is best effort: the caller logs and goes on).
    fn publish_draft(
        &self,
        lease: Lease,
        target: ModuleTarget,
        order: u32,
        seq: u32,
        draft: &ModuleDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a run in ONE transaction under the plan's row lock, fenced by the lease: the job's
    /// state, the attempt (naming the module, unnumbered), the draft deleted and, with
    /// `content`, the module's title, description and minutes replaced in place (its id and
    /// position kept) and its tasks replaced (their progress goes with them); the plan dated
    /// anew. Nothing else of the plan changes.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] (nothing written); [`StoreError::ModuleReplaced`] when the
    /// module is gone (nothing written); the store's errors.
    #[expect(
        clippy::too_many_arguments,
        reason = "one finishing write: its lease, owner, subject, content, end and call"
    )]
    fn finish_module(
        &self,
        lease: Lease,
        user: &UserId,
        target: ModuleTarget,
        attempt: NewAttempt,
        content: Option<NormalizedModule>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
