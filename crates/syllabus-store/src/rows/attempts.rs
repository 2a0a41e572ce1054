//! Rows of `generation_attempts`, read and inserted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use syllabus_domain::Issue;
use uuid::Uuid;

use super::numbers::to_u32;
use crate::records::{AttemptRecord, NewAttempt, TokenUsage};
use crate::schema::generation_attempts;

/// An attempt as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = generation_attempts)]
pub(crate) struct AttemptRow {
    pub(crate) id: Uuid,
    pub(crate) plan_id: Uuid,
    pub(crate) number: Option<i16>,
    pub(crate) classification: Option<String>,
    pub(crate) duration_ms: i32,
    pub(crate) modules_count: i32,
    pub(crate) tasks_count: i32,
    pub(crate) topic_truncated: bool,
    pub(crate) notes_truncated: bool,
    pub(crate) effort_normalized: bool,
    pub(crate) modules_clamped: i32,
    pub(crate) tasks_clamped: i32,
    pub(crate) timeout_extended: bool,
    pub(crate) provider: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) prompt_tokens: Option<i32>,
    pub(crate) completion_tokens: Option<i32>,
    pub(crate) total_tokens: Option<i32>,
    pub(crate) prompt_hash: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) issues: Option<serde_json::Value>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) module_id: Option<Uuid>,
}

impl AttemptRow {
    pub(crate) fn into_record(self) -> AttemptRecord {
        let usage = match (
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
        ) {
            (Some(p), Some(c), Some(t)) => Some(TokenUsage {
                prompt_tokens: to_u32(p),
                completion_tokens: to_u32(c),
                total_tokens: to_u32(t),
            }),
            _ => None,
        };
        let issues = self
            .issues
            .and_then(|v| serde_json::from_value::<Vec<Issue>>(v).ok())
            .map(|v| v.into_iter().collect());
        AttemptRecord {
            id: self.id,
            number: self.number.map(to_u32),
            module_id: self.module_id,
            attempt: NewAttempt {
                classification: self.classification.and_then(|c| c.parse().ok()),
                duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
                modules_count: to_u32(self.modules_count),
                tasks_count: to_u32(self.tasks_count),
                topic_truncated: self.topic_truncated,
                notes_truncated: self.notes_truncated,
                effort_normalized: self.effort_normalized,
                modules_clamped: to_u32(self.modules_clamped),
                tasks_clamped: to_u32(self.tasks_clamped),
                timeout_extended: self.timeout_extended,
                provider: self.provider,
                model: self.model,
                usage,
                prompt_hash: self.prompt_hash,
                error: self.error,
                issues,
            },
            created_at: self.created_at,
        }
    }
}

/// An attempt to record.
#[derive(Insertable)]
#[diesel(table_name = generation_attempts)]
pub(crate) struct AttemptInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) plan_id: Uuid,
    pub(crate) user_id: &'a str,
    pub(crate) job_id: Option<Uuid>,
    pub(crate) number: Option<i16>,
    pub(crate) status: &'a str,
    pub(crate) classification: Option<&'a str>,
    pub(crate) duration_ms: i32,
    pub(crate) modules_count: i32,
    pub(crate) tasks_count: i32,
    pub(crate) topic_truncated: bool,
    pub(crate) notes_truncated: bool,
    pub(crate) effort_normalized: bool,
    pub(crate) modules_clamped: i32,
    pub(crate) tasks_clamped: i32,
    pub(crate) timeout_extended: bool,
    pub(crate) provider: Option<&'a str>,
    pub(crate) model: Option<&'a str>,
    pub(crate) prompt_tokens: Option<i32>,
    pub(crate) completion_tokens: Option<i32>,
    pub(crate) total_tokens: Option<i32>,
    pub(crate) prompt_hash: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) issues: Option<serde_json::Value>,
    pub(crate) module_id: Option<Uuid>,
}
