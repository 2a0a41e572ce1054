//! Flashcards and skill trees, as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use syllabus_store::records::{DueCard, FlashcardRecord, SkillNodeRecord, SkillTreeRecord};
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields;

/// How a card is asked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardMode {
    /// Without distractors.
    QuestionAnswer,
    /// With its distractors.
    MultipleChoice,
}

/// A flashcard.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Flashcard)]
pub struct FlashcardView {
    id: Uuid,
    plan_id: Uuid,
    #[schema(required)]
    module_id: Option<Uuid>,
    question: String,
    answer: String,
    #[schema(schema_with = fields::distractors)]
    distractors: Vec<String>,
    // `multiple_choice` with all its distractors, else `question_answer`.
    #[schema(inline)]
    mode: CardMode,
    created_at: DateTime<Utc>,
}

impl From<FlashcardRecord> for FlashcardView {
    fn from(c: FlashcardRecord) -> Self {
        Self {
            id: c.id.as_uuid(),
            plan_id: c.plan_id.as_uuid(),
            module_id: c.module_id,
            question: c.question,
            answer: c.answer,
            mode: if c.distractors.len() == syllabus_domain::content::DISTRACTORS {
                CardMode::MultipleChoice
            } else {
                CardMode::QuestionAnswer
            },
            distractors: c.distractors,
            created_at: c.created_at,
        }
    }
}

/// A due card (issue #24): a Flashcard and when it became due.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DueCard)]
pub struct DueCardView {
    id: Uuid,
    plan_id: Uuid,
    #[schema(required)]
    module_id: Option<Uuid>,
    question: String,
    answer: String,
    #[schema(schema_with = fields::distractors)]
    distractors: Vec<String>,
    #[schema(inline)]
    mode: CardMode,
    created_at: DateTime<Utc>,
    /// When it became due: the date its last review gave, or its creation when never reviewed.
    due_at: DateTime<Utc>,
}

impl From<DueCard> for DueCardView {
    fn from(d: DueCard) -> Self {
        let c = FlashcardView::from(d.card);
        Self {
            id: c.id,
            plan_id: c.plan_id,
            module_id: c.module_id,
            question: c.question,
            answer: c.answer,
            distractors: c.distractors,
            mode: c.mode,
            created_at: c.created_at,
            due_at: d.due_at,
        }
    }
}

/// A skill of a tree, with the skills under it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SkillNode)]
pub struct SkillNodeView {
    id: Uuid,
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::skill_depth)]
    depth: u32,
    #[schema(examples("1.2.3"))]
    path: String,
    #[schema(no_recursion)]
    children: Vec<SkillNodeView>,
}

impl From<SkillNodeRecord> for SkillNodeView {
    fn from(n: SkillNodeRecord) -> Self {
        Self {
            id: n.id,
            title: n.title,
            description: n.description,
            depth: n.depth,
            path: n.path,
            children: n.children.into_iter().map(Self::from).collect(),
        }
    }
}

/// A plan's skill tree.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SkillTree)]
pub struct SkillTreeView {
    id: Uuid,
    plan_id: Uuid,
    node_count: u32,
    #[schema(schema_with = fields::skill_depth)]
    depth: u32,
    skills: Vec<SkillNodeView>,
    created_at: DateTime<Utc>,
}

impl From<SkillTreeRecord> for SkillTreeView {
    fn from(t: SkillTreeRecord) -> Self {
        Self {
            id: t.id,
            plan_id: t.plan_id.as_uuid(),
            node_count: t.node_count,
            depth: t.depth,
            skills: t.roots.into_iter().map(SkillNodeView::from).collect(),
            created_at: t.created_at,
        }
    }
}
