//! [`ProgressStore`]: the learner's progress through a plan's tasks and what its schedule is
//! computed from.

use std::future::Future;

use syllabus_domain::{PlanId, TaskStatus, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{ProgressRecord, ScheduleSource, TaskRecord};

/// The learner's progress through a plan's tasks (issue #20), as its owner sets and reads it.
pub trait ProgressStore: Clone + Send + Sync + 'static {
    /// Sets a task's progress: `completed_at` is set when it becomes `completed` (kept when it
    /// already was) and cleared otherwise. The plan's event streams are told at commit.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the task is not the user's; [`StoreError::InvalidState`]
    /// while a generation of its plan is queued or running (it replaces the tasks).
    fn set_task_progress(
        &self,
        user: &UserId,
        task: Uuid,
        status: TaskStatus,
    ) -> impl Future<Output = Result<TaskRecord, StoreError>> + Send;

    /// A plan's progress summary.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn plan_progress(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<ProgressRecord, StoreError>> + Send;

    /// What the plan's study schedule is computed from: its status, weekly hours, start and
    /// deadline dates and its tasks not completed, in plan order, read in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn schedule_source(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<ScheduleSource, StoreError>> + Send;
}
