//! Rows of `plan_previews` as a plan's event stream reads them.

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb};

use crate::records::PreviewRecord;

/// A preview as a plan's event stream reads it.
#[derive(QueryableByName)]
pub(crate) struct PreviewRow {
    #[diesel(sql_type = Integer)]
    attempt_number: i32,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
}

impl PreviewRow {
    pub(crate) fn into_record(self) -> PreviewRecord {
        PreviewRecord {
            attempt_number: u32::try_from(self.attempt_number).unwrap_or(0),
            index: u32::try_from(self.position).unwrap_or(0),
            module: self.module,
        }
    }
}
