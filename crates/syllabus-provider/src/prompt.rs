//! Prompts. Each carries the plan's (truncated) topic verbatim; plan prompts add the learner's
//! parameters and notes, flashcard prompts the module titles and card count, distractor prompts
//! the question and answer. A re-ask appends the previous attempt's issues (paths and messages).

use std::fmt::Write as _;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use syllabus_domain::content::{
    ANSWER_MAX_CHARS, DISTRACTORS, MAX_SKILL_DEPTH, MAX_SKILLS_PER_LEVEL, QUESTION_MAX_CHARS,
};
use syllabus_domain::plan::{
    DESCRIPTION_MAX_CHARS, MAX_MODULES, MAX_TASKS, MIN_MODULES, MIN_TASKS, MODULE_MINUTES,
    TASK_MINUTES, TITLE_MAX_CHARS,
};
use syllabus_domain::{Issues, PlanRequest};

/// The plan size the prompt suggests inside the hard bounds: small models that are given only
/// the bounds keep adding tasks until their token budget runs out.
const USUAL_MODULES: (usize, usize) = (3, 6);
/// Tasks per module the prompt suggests.
const USUAL_TASKS: (usize, usize) = (2, 5);
/// Sub-skills per skill the prompt suggests.
const USUAL_CHILDREN: (usize, usize) = (2, 4);

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

/// A one-line example of a plan's shape whose texts mention the topic: a small model copies the
/// example's texts, and topic-derived ones keep a copy on topic (with `…` placeholders a 135M
/// model finished 6 of 10 answers, with these 9 of 10).
fn plan_example(topic: &str) -> Value {
    json!({"modules": [{
        "title": format!("Getting started with {topic}"),
        "estimated_minutes": 60,
        "description": format!("The first ideas of {topic}."),
        "tasks": [{
            "title": format!("Read an introduction to {topic}"),
            "estimated_minutes": 20,
            "description": null,
        }],
    }]})
}

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
    if let Some(notes) = request.notes.as_ref().filter(|n| !n.as_str().is_empty()) {
        let _ = write!(user, "\nLearner's notes: {}", notes.as_str());
    }
    let _ = write!(
        user,
        "\n\nRules: {MIN_MODULES} to {MAX_MODULES} modules in study order (usually {} to {}), each with \
         {MIN_TASKS} to {MAX_TASKS} tasks in order (usually {} to {}). Titles are short, non-empty, at most \
         {TITLE_MAX_CHARS} characters. A description is one short sentence (at most {DESCRIPTION_MAX_CHARS} \
         characters) or null. estimated_minutes is a whole number: {} to {} for a module, {} to {} for a task.\n\
         Example of the shape: {}",
        USUAL_MODULES.0,
        USUAL_MODULES.1,
        USUAL_TASKS.0,
        USUAL_TASKS.1,
        MODULE_MINUTES.min,
        MODULE_MINUTES.max,
        TASK_MINUTES.min,
        TASK_MINUTES.max,
        plan_example(request.topic.as_str()),
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
    let _ = write!(
        user,
        "\nRules: 1 to {} cards. Each question is one short sentence (at most {QUESTION_MAX_CHARS} \
         characters), each answer short and correct (at most {ANSWER_MAX_CHARS} characters), \
         both non-empty.\n\
         Example of the shape: {}",
        input.max_cards,
        json!({"flashcards": [{
            "question": format!("What is one key idea of {}?", input.topic),
            "answer": format!("A short, correct answer about {}.", input.topic),
        }]}),
    );
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "flashcards",
    }
}

pub(crate) fn distractors(input: &DistractorsInput, reask: Option<&Issues>) -> Prompt {
    let mut user = format!(
        "Write exactly {DISTRACTORS} plausible but wrong answers for this multiple-choice question, \
         each different from the others and from the correct answer, each non-empty and at most \
         {ANSWER_MAX_CHARS} characters, about as long as the correct answer.\nTopic: {}\nQuestion: {}\n\
         Correct answer: {}\n\
         Example of the shape, for another question (\"What is the largest planet?\", answer \"Jupiter\"): \
         {{\"distractors\":[\"Saturn\",\"Neptune\",\"Earth\"]}}",
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
        "Build a skill tree at most {MAX_SKILL_DEPTH} levels deep.\nTopic: {}\n",
        input.topic
    );
    if !input.module_titles.is_empty() {
        user.push_str("Modules of the plan:\n");
        bullets(&mut user, &input.module_titles);
    }
    let _ = write!(
        user,
        "Rules: 1 to {MAX_SKILLS_PER_LEVEL} root skills, each with 0 to {MAX_SKILLS_PER_LEVEL} \
         sub-skills (usually {} to {}), at most {MAX_SKILL_DEPTH} levels. Titles are short, non-empty, \
         at most {TITLE_MAX_CHARS} characters; a description is one short sentence or null.\n\
         Example of the shape: {}",
        USUAL_CHILDREN.0,
        USUAL_CHILDREN.1,
        json!({"skills": [{
            "title": format!("{} basics", input.topic),
            "description": null,
            "children": [{
                "title": format!("Core ideas of {}", input.topic),
                "description": format!("What {} is about.", input.topic),
                "children": [],
            }],
        }]}),
    );
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
            study_days: None,
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
    fn prompts_state_the_bounds_and_an_example_of_a_shape_the_domain_accepts() {
        let p = plan(&request(), None);
        for bound in [
            format!("{MIN_MODULES} to {MAX_MODULES} modules"),
            format!("{MIN_TASKS} to {MAX_TASKS} tasks"),
            format!(
                "{} to {} for a module",
                MODULE_MINUTES.min, MODULE_MINUTES.max
            ),
            format!("{} to {} for a task", TASK_MINUTES.min, TASK_MINUTES.max),
            format!("at most {TITLE_MAX_CHARS} characters"),
        ] {
            assert!(p.user.contains(&bound), "{bound} in {}", p.user);
        }
        let example = |text: &str| -> Value {
            let at = text.find("Example of the shape").unwrap_or(0);
            let start = text[at..].find('{').map_or(0, |i| at + i);
            let line = text[start..].lines().next().unwrap_or_default();
            serde_json::from_str(line).unwrap_or(Value::Null)
        };
        assert!(
            syllabus_domain::validate_plan(&example(&p.user)).is_ok(),
            "{}",
            p.user
        );

        let cards = flashcards(
            &FlashcardsInput {
                topic: "Rust".into(),
                module_titles: vec!["Ownership".into()],
                max_cards: 7,
            },
            None,
        );
        assert!(cards.user.contains("1 to 7 cards"), "{}", cards.user);
        assert!(syllabus_domain::content::validate_flashcards(&example(&cards.user), 7).is_ok());

        let wrong = distractors(
            &DistractorsInput {
                topic: "Rust".into(),
                question: "Which keyword moves a closure's captures?".into(),
                answer: "move".into(),
            },
            None,
        );
        assert!(
            wrong
                .user
                .contains(&format!("exactly {DISTRACTORS} plausible"))
        );
        assert!(
            syllabus_domain::content::validate_distractors(&example(&wrong.user), "move").is_ok()
        );

        let tree = skill_tree(
            &SkillTreeInput {
                topic: "Rust".into(),
                module_titles: vec![],
            },
            None,
        );
        assert!(
            tree.user
                .contains(&format!("at most {MAX_SKILL_DEPTH} levels"))
        );
        assert!(syllabus_domain::content::validate_skill_tree(&example(&tree.user)).is_ok());
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
