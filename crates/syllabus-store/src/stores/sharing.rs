//! [`SharingStore`](crate::ports::SharingStore) on [`Database`]: the public view of a plan and
//! copying a plan (issue #21).

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{Origin, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::{Idempotency, Keyed, PlanDetail};
use crate::rows::plans::{ModuleInsert, PlanInsert, TaskInsert};
use crate::schema::{modules, plans, tasks};
use crate::sql::idempotency;
use crate::sql::plan_reads::{content_rows, plan_detail, plan_detail_of};
use crate::sql::plans::plan_row;
use crate::sql::users::{UserRow, record_user};

/// Turns the public scope of row-level security on or off for the rest of the transaction.
async fn public_scope(conn: &mut AsyncPgConnection, on: bool) -> Result<(), StoreError> {
    diesel::sql_query("SELECT set_config('syllabus.scope', $1, true)")
        .bind::<Text, _>(if on { "public" } else { "" })
        .execute(conn)
        .await?;
    Ok(())
}

async fn fork(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    user_row: UserRow,
    source: Uuid,
) -> Result<PlanDetail, StoreError> {
    // The source is read with the public scope on: the user's own plans and public ones are
    // visible, nobody else's private plan. It is off again before anything is written.
    public_scope(conn, true).await?;
    let owner: String = plans::table
        .filter(plans::id.eq(source))
        .select(plans::user_id)
        .first(conn)
        .await?;
    let row = plan_row(conn, source).await?;
    let (module_rows, task_rows) = content_rows(conn, source).await?;
    public_scope(conn, false).await?;
    if module_rows.is_empty() {
        return Err(StoreError::InvalidState(
            "the plan has no modules yet: there is nothing to copy".into(),
        ));
    }
    // Another user's notes, dates and study days are theirs: a copy of their plan starts
    // without them (every day, no dates); a copy of one's own plan keeps them.
    let own = owner == user.as_str();
    // A user's first plan may be a copy: they are recorded as on their first creation.
    record_user(conn, user, user_row).await?;
    let id = PlanId::new().as_uuid();
    diesel::insert_into(plans::table)
        .values(PlanInsert {
            id,
            user_id: user.as_str(),
            topic: &row.topic,
            topic_truncated: row.topic_truncated,
            topic_original_length: row.topic_original_length,
            notes: row.notes.as_deref().filter(|_| own),
            notes_truncated: own && row.notes_truncated,
            notes_original_length: row.notes_original_length.filter(|_| own),
            skill_level: &row.skill_level,
            weekly_hours: row.weekly_hours,
            learning_style: &row.learning_style,
            start_date: row.start_date.filter(|_| own),
            deadline_date: row.deadline_date.filter(|_| own),
            study_days: if own {
                row.study_days
            } else {
                i16::from(syllabus_domain::StudyDays::ALL.bits())
            },
            origin: Origin::Template.as_str(),
            forked_from: Some(source),
        })
        .execute(conn)
        .await?;
    let copies: Vec<(Uuid, Uuid)> = module_rows.iter().map(|m| (m.id, Uuid::now_v7())).collect();
    let new_module = |old: Uuid| copies.iter().find(|(o, _)| *o == old).map(|(_, n)| *n);
    let module_inserts: Vec<ModuleInsert<'_>> = module_rows
        .iter()
        .zip(&copies)
        .map(|(m, (_, new))| ModuleInsert {
            id: *new,
            plan_id: id,
            user_id: user.as_str(),
            position: m.position,
            title: &m.title,
            description: m.description.as_deref(),
            estimated_minutes: m.estimated_minutes,
            clamped: false,
        })
        .collect();
    diesel::insert_into(modules::table)
        .values(&module_inserts)
        .execute(conn)
        .await?;
    let task_inserts: Vec<TaskInsert<'_>> = task_rows
        .iter()
        .filter_map(|t| {
            Some(TaskInsert {
                id: Uuid::now_v7(),
                module_id: new_module(t.module_id)?,
                user_id: user.as_str(),
                position: t.position,
                title: &t.title,
                description: t.description.as_deref(),
                estimated_minutes: t.estimated_minutes,
                clamped: false,
            })
        })
        .collect();
    if !task_inserts.is_empty() {
        diesel::insert_into(tasks::table)
            .values(&task_inserts)
            .execute(conn)
            .await?;
    }
    plan_detail(conn, user, id).await
}

impl crate::ports::SharingStore for Database {
    async fn public_plan(&self, id: PlanId) -> Result<PlanDetail, StoreError> {
        self.as_public(move |conn| {
            Box::pin(async move { plan_detail_of(conn, None, id.as_uuid()).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user, plan.id = %id))]
    async fn fork_plan(
        &self,
        user: &UserId,
        id: PlanId,
        idem: Option<Idempotency<PlanDetail>>,
    ) -> Result<Keyed<PlanDetail>, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                if let Some(answer) = idempotency::claim(conn, &owner, idem.as_ref()).await? {
                    return Ok(Keyed::Replay(answer));
                }
                let user_row = UserRow::after_claim(idem.as_ref());
                let detail = fork(conn, &owner, user_row, id.as_uuid()).await?;
                idempotency::finish(conn, &owner, idem, detail).await
            })
        })
        .await
    }
}
