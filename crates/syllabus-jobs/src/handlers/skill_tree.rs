//! The `skill_tree` handler: a plan's skill tree, saved with the job's completion in one
//! transaction (replacing the previous tree).

use syllabus_domain::{JobStatus, PlanId};
use syllabus_provider::{Call, Provider, SkillTreeInput};
use syllabus_store::records::{ClaimedJob, JobEnd};
use syllabus_store::{ContentJobStore, LimiterStore, QueueStore, StoreError};

use super::content::{completed, fail};
use crate::context::Context;
use crate::gate::Gate;

/// Generates the plan's tree and ends the run with it saved.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    plan_id: PlanId,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + ContentJobStore + LimiterStore,
    P: Provider,
{
    let context = match ctx.store.content_context(&job.user, plan_id, None).await {
        Err(StoreError::NotFound) => {
            return ctx.end_run(job, JobEnd::Cancelled).await;
        }
        other => other?,
    };
    let input = SkillTreeInput {
        topic: context.topic,
        module_titles: context.module_titles,
    };
    let reask = job.reask.as_ref();
    let gated = ctx.limited(job, Call::SkillTree(&input, reask), |p| {
        p.skill_tree(&input, reask)
    });
    let outcome = match gated.await {
        Gate::Ran(outcome) => outcome,
        Gate::Waiting(status) => return status,
    };
    match outcome {
        Err(failure) => fail(ctx, job, &failure).await,
        Ok(generated) => {
            let tree = generated.output;
            let end = completed(
                serde_json::json!({
                    "plan_id": plan_id.as_uuid(),
                    "node_count": tree.node_count,
                    "depth": tree.depth,
                }),
                &generated.facts,
            );
            let call = ctx.call_record(&generated.facts, None);
            ctx.finishing(|| {
                ctx.store.finish_skill_tree(
                    job.lease,
                    &job.user,
                    plan_id,
                    tree.clone(),
                    end.clone(),
                    Some(call.clone()),
                )
            })
            .await?;
            Ok(JobStatus::Completed)
        }
    }
}
