//! Prompts. Each carries the plan's (truncated) topic verbatim; plan prompts add the learner's
//! parameters and notes, flashcard prompts the module titles and card count, distractor prompts
//! the question and answer. A re-ask appends the previous attempt's issues (paths and messages).

use std::fmt::Write as _;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use syllabus_domain::{Issues, PlanRequest};

/// Input of a flashcards call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashcardsInput {
    /// The plan's topic.
    pub topic: String,
    /// Titles of the modules the cards should cover.
    pub module_titles: Vec<String>,
    /// Most cards wanted (1–50).
    pub max_cards: u32,
}

/// Input of a distractors call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistractorsInput {
    /// The plan's topic.
    pub topic: String,
    /// The card's question.
    pub question: String,
    /// The card's correct answer.
    pub answer: String,
}

/// Input of a skill-tree call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillTreeInput {
    /// The plan's topic.
    pub topic: String,
    /// The plan's module titles, if generated.
    pub module_titles: Vec<String>,
}

/// A ready prompt: the user message (the system message is [`SYSTEM`] for every kind) and the
/// schema name.
#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    pub user: String,
    pub schema_name: &'static str,
}

impl Prompt {
    pub fn messages(&self) -> Value {
        json!([
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": self.user},
        ])
    }

    /// SHA-256 of what decides the output: schema name and messages.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [self.schema_name, SYSTEM, &self.user] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hasher
            .finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

/// Appends one `- item` line per title.
fn bullets(out: &mut String, titles: &[String]) {
    for title in titles {
        let _ = writeln!(out, "- {title}");
    }
}

fn reask_section(out: &mut String, reask: Option<&Issues>) {
    if let Some(issues) = reask.filter(|i| !i.is_empty()) {
        out.push_str("\n\nYour previous answer was rejected. Fix exactly these problems:\n");
        for issue in issues.as_slice() {
            let path = if issue.path.is_empty() {
                "(document)"
            } else {
                &issue.path
            };
            let _ = writeln!(out, "- {path}: {}", issue.message);
        }
    }
}

const SYSTEM: &str =
    "You are an expert curriculum designer. Answer only with JSON that follows the given schema.";

pub(crate) fn plan(request: &PlanRequest, reask: Option<&Issues>) -> Prompt {
    let mut user = String::with_capacity(512);
    let _ = write!(
        user,
        "Create a learning plan.\nTopic: {}\nSkill level: {}\nLearning style: {}\nWeekly hours: {}",
        request.topic.as_str(),
        request.skill_level,
        request.learning_style,
        request.weekly_hours.get(),
    );
    if let Some(start) = request.start_date {
        let _ = write!(user, "\nStart date: {start}");
    }
    if let Some(deadline) = request.deadline_date {
        let _ = write!(user, "\nDeadline: {deadline}");
    }
    if let Some(notes) = &request.notes {
        let _ = write!(user, "\nLearner's notes: {}", notes.as_str());
    }
    user.push_str(
        "\n\nRules: 1 to 24 modules in study order, each with 1 to 20 tasks in order. \
         Titles are short and non-empty. Module efforts are 15 to 480 minutes, task efforts 5 to 120 minutes.",
    );
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "learning_plan",
    }
}

pub(crate) fn flashcards(input: &FlashcardsInput, reask: Option<&Issues>) -> Prompt {
    let mut user = format!(
        "Write at most {} question/answer flashcards.\nTopic: {}\nModules:\n",
        input.max_cards, input.topic
    );
    bullets(&mut user, &input.module_titles);
    user.push_str("\nQuestions at most 1000 characters, answers at most 2000.");
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "flashcards",
    }
}

pub(crate) fn distractors(input: &DistractorsInput, reask: Option<&Issues>) -> Prompt {
    let mut user = format!(
        "Write exactly 3 plausible but wrong answers for this multiple-choice question, distinct from each other and from the correct answer.\nTopic: {}\nQuestion: {}\nCorrect answer: {}",
        input.topic, input.question, input.answer
    );
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "distractors",
    }
}

pub(crate) fn skill_tree(input: &SkillTreeInput, reask: Option<&Issues>) -> Prompt {
    let mut user = format!(
        "Build a skill tree at most 3 levels deep.\nTopic: {}\n",
        input.topic
    );
    if !input.module_titles.is_empty() {
        user.push_str("Modules of the plan:\n");
        bullets(&mut user, &input.module_titles);
    }
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "skill_tree",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syllabus_domain::RawPlanRequest;

    fn request() -> PlanRequest {
        PlanRequest::parse(&RawPlanRequest {
            topic: "Rust lifetimes & borrowing".into(),
            notes: Some("I know C++".into()),
            skill_level: "intermediate".into(),
            weekly_hours: 6,
            learning_style: "practice".into(),
            start_date: None,
            deadline_date: Some("2026-12-31".into()),
        })
        .unwrap()
    }

    #[test]
    fn a_plan_prompt_carries_the_topic_verbatim_and_the_parameters() {
        let p = plan(&request(), None);
        assert!(p.user.contains("Topic: Rust lifetimes & borrowing\n"));
        assert!(p.user.contains("Skill level: intermediate"));
        assert!(p.user.contains("Weekly hours: 6"));
        assert!(p.user.contains("Deadline: 2026-12-31"));
        assert!(p.user.contains("I know C++"));
        assert!(!p.user.contains("previous answer"));
    }

    #[test]
    fn a_reask_lists_the_issues_and_changes_the_hash() {
        let mut issues = Issues::default();
        issues.push("modules[0].tasks", "must hold 1 to 20 tasks, found 0");
        let first = plan(&request(), None);
        let second = plan(&request(), Some(&issues));
        assert!(
            second
                .user
                .contains("- modules[0].tasks: must hold 1 to 20 tasks, found 0")
        );
        assert_ne!(first.hash(), second.hash());
        assert_eq!(first.hash(), plan(&request(), None).hash());
        assert_eq!(first.hash().len(), 64);
    }
}
