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
use syllabus_domain::quality::ExampleTexts;
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

/// Input of a module regeneration call (issue #21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInput {
    /// The plan's request: its topic verbatim and the learner's parameters.
    pub request: PlanRequest,
    /// The module's place in the plan (1-based).
    pub order: u32,
    /// The module's title now.
    pub title: String,
    /// The module's description now.
    pub description: Option<String>,
    /// The titles of the plan's other modules, in order.
    pub other_titles: Vec<String>,
    /// The learner's instruction, if any.
    pub instruction: Option<String>,
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

/// The worked example of a plan prompt: a plan on another topic (beekeeping), whose texts a model
/// cannot copy without the copy being caught ([`plan_example_texts`]), and whose modules' minutes
/// are their tasks' sums, as the minutes rule wants. Chosen over a topic-derived example (which a
/// 135M model copied into most of its plans: issue #21) and a bare skeleton on real answers
/// (docs/benchmarks.md, "Degenerate answers").
pub(crate) fn plan_example() -> Value {
    json!({"modules": [
        {
            "title": "Inside the hive",
            "estimated_minutes": 50,
            "description": "How a honeybee colony shares its work.",
            "tasks": [
                {"title": "Label the parts of a frame", "estimated_minutes": 20,
                 "description": "Name comb, brood and honey cells on a diagram."},
                {"title": "Watch an inspection video", "estimated_minutes": 30, "description": null},
            ],
        },
        {
            "title": "Your first inspection",
            "estimated_minutes": 90,
            "description": "Opening a hive safely and reading what you see.",
            "tasks": [
                {"title": "Light and use a smoker", "estimated_minutes": 30,
                 "description": "Practise a cool, steady smoke."},
                {"title": "Check a brood frame", "estimated_minutes": 60,
                 "description": "Find eggs, larvae and the queen."},
            ],
        },
    ]})
}

/// The texts of the plan prompt's worked example, for the rule that refuses copies of it (and for
/// `examples/quality_check.rs`, which counts copies in stored plans).
pub fn plan_example_texts() -> ExampleTexts {
    ExampleTexts::from_json(&plan_example())
}

/// The example of a flashcards prompt; its texts name the topic, so a copy is a card about
/// nothing, which the copy rule refuses.
pub(crate) fn flashcards_example(topic: &str) -> Value {
    json!({"flashcards": [{
        "question": format!("What is one key idea of {topic}?"),
        "answer": format!("A short, correct answer about {topic}."),
    }]})
}

/// The example of a distractors prompt, for another question.
pub(crate) fn distractors_example() -> Value {
    json!({"distractors": ["Saturn", "Neptune", "Earth"]})
}

/// The example of a skill-tree prompt: another topic (beekeeping), as for plans, so that a copy
/// is caught and a learner's own "… basics" skill is not taken for one.
pub(crate) fn skill_tree_example() -> Value {
    json!({"skills": [{
        "title": "Hive anatomy",
        "description": null,
        "children": [{
            "title": "Frames and comb",
            "description": "What each kind of cell holds.",
            "children": [],
        }],
    }]})
}

/// The topic verbatim and the learner's parameters, as a plan prompt gives them.
fn learner(user: &mut String, request: &PlanRequest) {
    let _ = write!(
        user,
        "Topic: {}\nSkill level: {}\nLearning style: {}\nWeekly hours: {}",
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
}

pub(crate) fn plan(request: &PlanRequest, reask: Option<&Issues>) -> Prompt {
    let mut user = String::with_capacity(512);
    user.push_str("Create a learning plan.\n");
    learner(&mut user, request);
    let _ = write!(
        user,
        "\n\nRules: {MIN_MODULES} to {MAX_MODULES} modules in study order (usually {} to {}), each with \
         {MIN_TASKS} to {MAX_TASKS} tasks in order (usually {} to {}). Titles are short, non-empty, at most \
         {TITLE_MAX_CHARS} characters. A description is one short sentence (at most {DESCRIPTION_MAX_CHARS} \
         characters) or null. estimated_minutes is a whole number: {} to {} for a module, {} to {} for a task; \
         a module's minutes are about the sum of its tasks' minutes. Every title differs from its siblings'.\n\
         Example of the shape, for another topic (beekeeping): write your own modules and tasks for this topic, \
         never these: {}",
        USUAL_MODULES.0,
        USUAL_MODULES.1,
        USUAL_TASKS.0,
        USUAL_TASKS.1,
        MODULE_MINUTES.min,
        MODULE_MINUTES.max,
        TASK_MINUTES.min,
        TASK_MINUTES.max,
        plan_example(),
    );
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "learning_plan",
    }
}

/// The example of a module prompt: a module of the plan example (another topic).
pub(crate) fn module_example() -> Value {
    plan_example()["modules"][1].clone()
}

/// A module prompt (issue #21): the plan's learner parameters, its other modules' titles in
/// order (so that the new module repeats none), the module as it is, the learner's instruction.
pub(crate) fn module(input: &ModuleInput, reask: Option<&Issues>) -> Prompt {
    let mut user = String::with_capacity(1024);
    let _ = writeln!(
        user,
        "Rewrite module {} of a learning plan; keep it about the same part of the topic.",
        input.order
    );
    learner(&mut user, &input.request);
    if !input.other_titles.is_empty() {
        user.push_str("\nThe plan's other modules, in order (do not repeat them):\n");
        bullets(&mut user, &input.other_titles);
    }
    let _ = write!(user, "\nThe module now: {}", input.title);
    if let Some(d) = input.description.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(user, " ({d})");
    }
    if let Some(instruction) = &input.instruction {
        let _ = write!(user, "\nThe learner asks: {instruction}");
    }
    let _ = write!(
        user,
        "\n\nRules: one module with {MIN_TASKS} to {MAX_TASKS} tasks in order (usually {} to {}). \
         Titles are short, non-empty, at most {TITLE_MAX_CHARS} characters; the module's title differs \
         from the other modules'. A description is one short sentence (at most {DESCRIPTION_MAX_CHARS} \
         characters) or null. estimated_minutes is a whole number: {} to {} for the module, {} to {} \
         for a task; the module's minutes are about the sum of its tasks' minutes. Every task title \
         differs from the others.\n\
         Example of the shape, for another topic (beekeeping): write your own module for this topic, \
         never this one: {}",
        USUAL_TASKS.0,
        USUAL_TASKS.1,
        MODULE_MINUTES.min,
        MODULE_MINUTES.max,
        TASK_MINUTES.min,
        TASK_MINUTES.max,
        module_example(),
    );
    reask_section(&mut user, reask);
    Prompt {
        user,
        schema_name: "learning_module",
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
        flashcards_example(&input.topic),
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
         {}",
        input.topic,
        input.question,
        input.answer,
        distractors_example(),
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
         at most {TITLE_MAX_CHARS} characters, each different from its siblings'; a description is one \
         short sentence or null.\n\
         Example of the shape, for another topic (beekeeping): write your own skills for this topic: {}",
        USUAL_CHILDREN.0,
        USUAL_CHILDREN.1,
        skill_tree_example(),
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
    fn a_module_prompt_gives_the_learner_the_other_titles_and_the_instruction() {
        let input = ModuleInput {
            request: request(),
            order: 2,
            title: "Borrowing".into(),
            description: Some("Shared and mutable references.".into()),
            other_titles: vec!["Ownership".into(), "Lifetimes".into()],
            instruction: Some("more hands-on".into()),
        };
        let p = module(&input, None);
        assert_eq!(p.schema_name, "learning_module");
        assert!(p.user.contains("Topic: Rust lifetimes & borrowing\n"));
        assert!(p.user.contains("Skill level: intermediate"));
        assert!(p.user.contains("I know C++"));
        assert!(p.user.contains("- Ownership\n- Lifetimes\n"));
        assert!(
            p.user
                .contains("The module now: Borrowing (Shared and mutable references.)")
        );
        assert!(p.user.contains("The learner asks: more hands-on"));
        assert!(!p.user.contains("previous answer"));
        let mut issues = Issues::default();
        issues.push("tasks[1].title", "is the same title as tasks[0].title");
        let again = module(&input, Some(&issues));
        assert!(
            again
                .user
                .contains("- tasks[1].title: is the same title as tasks[0].title")
        );
        let example = module_example();
        let checked = syllabus_domain::regen::validate_regenerated_module(
            &example,
            1,
            &[],
            &ExampleTexts::default(),
        );
        assert!(checked.is_ok(), "{checked:?}");
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
    fn the_examples_pass_the_degenerate_answer_rules_and_a_copy_of_them_does_not() {
        use syllabus_domain::quality;
        // The plan example itself is no degenerate plan: its titles differ, its modules' minutes
        // are their tasks' sums, nothing loops.
        let doc = plan_example();
        let example = syllabus_domain::validate_plan(&doc).unwrap();
        assert!(quality::check_plan(&doc, &example, &ExampleTexts::default()).is_ok());
        // A copy of it is refused at each copied text.
        let copied = quality::check_plan(&doc, &example, &plan_example_texts()).unwrap_err();
        assert_eq!(copied.as_slice().len(), 11, "{copied}");
        // A plan of the learner's own topic whose texts merely share words with it is not.
        let own = json!({"modules": [{
            "title": "Inside the borrow checker",
            "estimated_minutes": 45,
            "description": "How Rust shares its data.",
            "tasks": [
                {"title": "Label the parts of a lifetime error", "estimated_minutes": 20, "description": null},
                {"title": "Watch a borrow-checker talk", "estimated_minutes": 25, "description": null},
            ],
        }]});
        let plan = syllabus_domain::validate_plan(&own).unwrap();
        assert!(quality::check_plan(&own, &plan, &plan_example_texts()).is_ok());

        let tree = syllabus_domain::content::validate_skill_tree(&skill_tree_example()).unwrap();
        let texts = ExampleTexts::from_json(&skill_tree_example());
        assert!(quality::check_skill_tree(&tree, &ExampleTexts::default()).is_ok());
        assert!(quality::check_skill_tree(&tree, &texts).is_err());
        let cards =
            syllabus_domain::content::validate_flashcards(&flashcards_example("Rust"), 5).unwrap();
        let texts = ExampleTexts::from_json(&flashcards_example("Rust"));
        assert!(quality::check_flashcards(&cards, &ExampleTexts::default()).is_ok());
        assert!(quality::check_flashcards(&cards, &texts).is_err());
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
