//! [`EditStore`]: a plan's modules and tasks edited by hand (issue #21).

use std::future::Future;

use syllabus_domain::{
    ModuleChanges, ModuleId, NewModule, NewTask, PlanId, TaskChanges, TaskId, UserId,
};

use crate::error::StoreError;
use crate::records::{ModuleRecord, TaskRecord};

/// A plan's modules and tasks as their owner edits them. Every method is one transaction that
/// locks the plan's row first (crate::locks' order), checks that the plan may be edited now (it
/// has modules, and no generation of it is queued or running: else
/// [`StoreError::InvalidState`]), keeps positions 1..N and unique in each scope, and dates the
/// plan (`updated_at`) when it changes anything. Another user's module or task is
/// [`StoreError::NotFound`].
pub trait EditStore: Clone + Send + Sync + 'static {
    /// Changes a module's title, description, minutes or position (the others shift).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`]; [`StoreError::Invalid`] naming
    /// `order` when it is outside 1..N.
    fn update_module(
        &self,
        user: &UserId,
        module: ModuleId,
        changes: &ModuleChanges,
    ) -> impl Future<Output = Result<ModuleRecord, StoreError>> + Send;

    /// Changes a task's title, description, minutes or position, or moves it to another
    /// module of the same plan (at `order`, or last); both modules renumber.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] (also when the task is its
    /// module's only one and would leave it, or the other module is full);
    /// [`StoreError::Invalid`] naming `order`, or `module_id` when it is not a module of the
    /// task's plan.
    fn update_task(
        &self,
        user: &UserId,
        task: TaskId,
        changes: &TaskChanges,
    ) -> impl Future<Output = Result<TaskRecord, StoreError>> + Send;

    /// Adds a module with its tasks at its `order` (or last).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (the plan); [`StoreError::InvalidState`] (also at 24 modules);
    /// [`StoreError::Invalid`] naming `order` outside 1..N+1.
    fn add_module(
        &self,
        user: &UserId,
        plan: PlanId,
        module: &NewModule,
    ) -> impl Future<Output = Result<ModuleRecord, StoreError>> + Send;

    /// Adds a task to a module at its `order` (or last).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (the module); [`StoreError::InvalidState`] (also at 20
    /// tasks); [`StoreError::Invalid`] naming `order` outside 1..N+1.
    fn add_task(
        &self,
        user: &UserId,
        module: ModuleId,
        task: &NewTask,
    ) -> impl Future<Output = Result<TaskRecord, StoreError>> + Send;

    /// Deletes a module, its tasks and their progress; the plan's other modules renumber. Its
    /// flashcards stay in the plan's deck, no longer tied to a module.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] (also for the plan's only module).
    fn delete_module(
        &self,
        user: &UserId,
        module: ModuleId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a task and its progress; the module's other tasks renumber.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] (also for the module's only task).
    fn delete_task(
        &self,
        user: &UserId,
        task: TaskId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
