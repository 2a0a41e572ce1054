//! Reads of one plan that several ports share: its row with its counts, its topic, its module
//! titles.

use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::PlanId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::rows::plans::{PLAN_COLUMNS, PlanRow};
use crate::schema::{modules, plans};

pub(crate) async fn plan_row(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<PlanRow, StoreError> {
    Ok(diesel::sql_query(format!(
        "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.id = $1"
    ))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?)
}
pub(crate) async fn plan_topic(
    conn: &mut AsyncPgConnection,
    plan: PlanId,
) -> Result<String, StoreError> {
    Ok(plans::table
        .filter(plans::id.eq(plan.as_uuid()))
        .select(plans::topic)
        .first(conn)
        .await?)
}

pub(crate) async fn module_titles(
    conn: &mut AsyncPgConnection,
    plan: PlanId,
    module: Option<Uuid>,
) -> Result<Vec<String>, StoreError> {
    let mut q = modules::table
        .filter(modules::plan_id.eq(plan.as_uuid()))
        .order(modules::position)
        .select(modules::title)
        .into_boxed();
    if let Some(m) = module {
        q = q.filter(modules::id.eq(m));
    }
    Ok(q.load(conn).await?)
}
