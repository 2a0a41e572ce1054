//! Flashcards, distractors and skill trees as records, and what their runs send the model.

use chrono::{DateTime, Utc};
use syllabus_domain::PlanId;
use uuid::Uuid;

/// A stored flashcard with its distractors (0 or 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashcardRecord {
    /// Id.
    pub id: syllabus_domain::FlashcardId,
    /// Its plan.
    pub plan_id: PlanId,
    /// Its module, if it was made for one.
    pub module_id: Option<Uuid>,
    /// Question.
    pub question: String,
    /// Answer.
    pub answer: String,
    /// Three wrong answers in order, or none (question/answer mode).
    pub distractors: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored skill tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillTreeRecord {
    /// Id.
    pub id: Uuid,
    /// Its plan.
    pub plan_id: PlanId,
    /// Nodes in the tree.
    pub node_count: u32,
    /// Deepest level (1–3).
    pub depth: u32,
    /// Root nodes in order, children nested.
    pub roots: Vec<SkillNodeRecord>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored skill node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillNodeRecord {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// 1–3.
    pub depth: u32,
    /// Materialized path, e.g. `1.2.3`.
    pub path: String,
    /// Children in order.
    pub children: Vec<SkillNodeRecord>,
}

/// What a flashcards run sends the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentContext {
    /// The plan's topic.
    pub topic: String,
    /// Module titles in order (the one module when a job names it).
    pub module_titles: Vec<String>,
}

/// What a distractors run sends the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardContext {
    /// The plan's topic.
    pub topic: String,
    /// The card's question.
    pub question: String,
    /// The card's answer.
    pub answer: String,
}

/// A top-level skill of a skill-tree answer that streamed in complete and valid (issue #24).
#[derive(Debug, Clone, PartialEq)]
pub struct SkillPreviewRecord {
    /// The skill-tree job.
    pub job_id: syllabus_domain::JobId,
    /// Its 0-based position among the tree's roots.
    pub index: u32,
    /// The job's run that streamed it (1, 2, … : a later run's skills replace an earlier's).
    pub run: u32,
    /// `{title, description, depth, path, children: [same shape]}` (a validated node).
    pub skill: serde_json::Value,
}
