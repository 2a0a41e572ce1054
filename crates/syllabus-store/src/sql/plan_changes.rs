//! Changing a plan's weekly hours, study days, dates and notes (issue #20), under its row lock.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{Patch, PlanChanges, StudyDays};
use uuid::Uuid;

use crate::error::StoreError;
use crate::rows::numbers::to_i32;
use crate::rows::plans::PlanChangeset;
use crate::schema::plans;

/// Applies `changes` to the plan: locks its row (the first lock of crate::locks' order), checks
/// the dates it would have against each other, and writes only the fields that change.
pub(crate) async fn change_plan(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &PlanChanges,
) -> Result<(), StoreError> {
    // Under row-level security another user's plan is not found.
    let (start, deadline): (Option<NaiveDate>, Option<NaiveDate>) = plans::table
        .filter(plans::id.eq(id))
        .select((plans::start_date, plans::deadline_date))
        .for_no_key_update()
        .first(conn)
        .await?;
    changes
        .dates(start, deadline)
        .map_err(StoreError::Invalid)?;
    if changes.is_empty() {
        return Ok(());
    }
    let notes = match &changes.notes {
        Patch::Keep => None,
        Patch::Clear => Some((None, false, None)),
        Patch::Set(n) => Some((
            Some(n.as_str()).filter(|t| !t.is_empty()),
            n.truncated(),
            Some(to_i32(
                u32::try_from(n.original_length()).unwrap_or(u32::MAX),
            )),
        )),
    };
    let date = |p: &Patch<NaiveDate>| match p {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(d) => Some(Some(*d)),
    };
    diesel::update(plans::table.filter(plans::id.eq(id)))
        .set((
            PlanChangeset {
                weekly_hours: changes.weekly_hours.map(|h| i16::from(h.get())),
                study_days: match changes.study_days {
                    Patch::Keep => None,
                    Patch::Clear => Some(i16::from(StudyDays::ALL.bits())),
                    Patch::Set(days) => Some(i16::from(days.bits())),
                },
                start_date: date(&changes.start_date),
                deadline_date: date(&changes.deadline_date),
                notes: notes.map(|n| n.0),
                notes_truncated: notes.map(|n| n.1),
                notes_original_length: notes.map(|n| n.2),
            },
            plans::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
