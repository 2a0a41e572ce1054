//! Regenerating one module of a plan (issue #21): the learner's instruction, the rules a
//! regenerated module must pass (a plan's module rules, the degenerate-answer rules of
//! [`quality`](mod@crate::quality), and a title of its own among the plan's other modules), and the
//! draft shown while the module streams in.

use serde::Serialize;
use serde_json::{Value, json};

use crate::fields::{NUL_MESSAGE, exceeds, optional_text, required_text};
use crate::issues::{Issue, Issues};
use crate::plan::{
    DESCRIPTION_MAX_CHARS, MODULE_MINUTES, NormalizedModule, NormalizedTask, TITLE_MAX_CHARS,
    validate_plan, validate_task,
};
use crate::quality::{self, ExampleTexts, fold};

/// Most characters of a learner's instruction. A longer one is refused, not cut: half an
/// instruction can mean something else.
pub const INSTRUCTION_MAX_CHARS: usize = 500;

/// Reads an optional instruction: absent, `null` or blank is none; a string is trimmed.
///
/// # Errors
/// The message for the field: not a string, longer than [`INSTRUCTION_MAX_CHARS`] characters
/// once trimmed, or holding NUL.
pub fn parse_instruction(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let text = s.trim();
            if text.is_empty() {
                Ok(None)
            } else if exceeds(text, INSTRUCTION_MAX_CHARS) {
                Err(format!(
                    "must be at most {INSTRUCTION_MAX_CHARS} characters, found {}",
                    text.chars().count()
                ))
            } else if text.contains('\0') {
                Err(NUL_MESSAGE.to_owned())
            } else {
                Ok(Some(text.to_owned()))
            }
        }
        Some(_) => Err("must be a string".to_owned()),
    }
}

/// An issue found in the module wrapped as a plan's only module, said of the module itself
/// (`modules[0].tasks[1].title` → `tasks[1].title`).
fn unwrapped(issues: Issues) -> Issues {
    const INNER: &str = "modules[0].";
    issues
        .into_vec()
        .into_iter()
        .map(|i| {
            let path = match i.path.strip_prefix(INNER) {
                Some(rest) => rest.to_owned(),
                None if i.path == "modules[0]" || i.path == "modules" => "module".to_owned(),
                None => i.path,
            };
            Issue::new(path, i.message.replace(INNER, ""))
        })
        .collect()
}

/// Validates a `learning_module` answer (the module object itself) to take the place of the
/// plan's module at `order`: every rule of a plan's module (bounds, minutes clamped, 1 to 20
/// tasks), the degenerate-answer rules, and a title that, folded, is none of `other_titles`
/// (the plan's other modules).
///
/// # Errors
/// Every issue found, with paths inside the module (`title`, `tasks[2].description`).
pub fn validate_regenerated_module(
    doc: &Value,
    order: u32,
    other_titles: &[String],
    example: &ExampleTexts,
) -> Result<NormalizedModule, Issues> {
    let wrapped = json!({ "modules": [doc] });
    let plan = validate_plan(&wrapped).map_err(unwrapped)?;
    let mut issues = quality::check_plan(&wrapped, &plan, example)
        .err()
        .map(unwrapped)
        .unwrap_or_default();
    let Some(mut module) = plan.modules.into_iter().next() else {
        issues.push("module", "must be a module");
        return Err(issues);
    };
    let own = fold(&module.title);
    if other_titles.iter().any(|t| fold(t) == own) {
        issues.push(
            "title",
            "is the same title as another module of the plan: give this module a title of its own",
        );
    }
    module.order = order;
    issues.into_result(module)
}

/// What a module streaming in shows so far: its fields once valid, and its tasks up to the
/// first that is not (each complete and valid, efforts clamped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ModuleDraft {
    /// Trimmed, when valid.
    pub title: Option<String>,
    /// Trimmed; `None` when absent, blank or not valid.
    pub description: Option<String>,
    /// Clamped, when valid.
    pub estimated_minutes: Option<u32>,
    /// The complete tasks so far, in order.
    pub tasks: Vec<NormalizedTask>,
}

/// The draft of a partial `learning_module` document (a prefix of the answer closed after its
/// last complete task).
#[must_use]
pub fn module_draft(doc: &Value) -> ModuleDraft {
    let mut scratch = Issues::default();
    let title = required_text(doc, "title", TITLE_MAX_CHARS, "title", &mut scratch);
    let description = optional_text(
        doc,
        "description",
        DESCRIPTION_MAX_CHARS,
        "description",
        &mut scratch,
    )
    .flatten();
    let estimated_minutes = doc
        .get("estimated_minutes")
        .and_then(Value::as_f64)
        .and_then(|m| MODULE_MINUTES.normalize(m))
        .map(|e| e.minutes);
    let tasks = doc
        .get("tasks")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .enumerate()
                .map_while(|(i, t)| validate_task(t, i + 1))
                .collect()
        })
        .unwrap_or_default();
    ModuleDraft {
        title,
        description,
        estimated_minutes,
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn module(title: &str, tasks: &[(&str, u32)]) -> Value {
        let sum: u32 = tasks.iter().map(|t| t.1).sum();
        json!({
            "title": title,
            "estimated_minutes": sum,
            "description": "What it covers.",
            "tasks": tasks.iter().map(|(t, m)| json!({
                "title": t, "estimated_minutes": m, "description": null
            })).collect::<Vec<_>>(),
        })
    }

    fn paths(r: Result<NormalizedModule, Issues>) -> Vec<String> {
        r.err()
            .map(|i| i.as_slice().iter().map(|i| i.path.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_valid_module_takes_the_order_it_replaces() {
        let doc = module(
            "Ownership rules",
            &[("Read the chapter", 30), ("Borrow", 45)],
        );
        let m = validate_regenerated_module(&doc, 3, &["Setup".into()], &ExampleTexts::default());
        let m = m.unwrap();
        assert_eq!(m.order, 3);
        assert_eq!(m.tasks.len(), 2);
        assert_eq!(m.estimated_minutes, 75);
    }

    #[test]
    fn a_title_another_module_has_once_folded_is_an_issue() {
        let doc = module("  ownership, RULES! ", &[("Read", 30)]);
        let r = validate_regenerated_module(
            &doc,
            2,
            &["Setup".into(), "Ownership rules".into()],
            &ExampleTexts::default(),
        );
        assert_eq!(paths(r), ["title"]);
    }

    #[test]
    fn the_plan_rules_and_quality_rules_speak_of_the_module_itself() {
        // Out of bounds: 21 tasks, a task without minutes.
        let many: Vec<(String, u32)> = (0..21).map(|i| (format!("Step {i}"), 10)).collect();
        let refs: Vec<(&str, u32)> = many.iter().map(|(t, m)| (t.as_str(), *m)).collect();
        let r = validate_regenerated_module(&module("M", &refs), 1, &[], &ExampleTexts::default());
        assert_eq!(paths(r), ["tasks"]);
        let r = validate_regenerated_module(
            &json!({"title": "M", "estimated_minutes": 30, "description": null,
                    "tasks": [{"title": "T", "description": null}]}),
            1,
            &[],
            &ExampleTexts::default(),
        );
        assert_eq!(paths(r), ["tasks[0].estimated_minutes"]);
        assert_eq!(
            paths(validate_regenerated_module(
                &json!([]),
                1,
                &[],
                &ExampleTexts::default()
            )),
            ["module"]
        );
        // Degenerate: repeated task titles, minutes far from the tasks' sum, a copied example.
        let mut doc = module("Basics", &[("The first task.", 10), ("the first task", 10)]);
        doc["estimated_minutes"] = json!(400);
        let example = ExampleTexts::new(["Inside the hive"]);
        doc["description"] = json!("Inside the hive");
        let r = validate_regenerated_module(&doc, 1, &[], &example);
        let issues = r.unwrap_err();
        let found: Vec<&str> = issues.as_slice().iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            found,
            ["description", "tasks[1].title", "estimated_minutes"]
        );
        assert!(
            issues.as_slice()[1].message.contains("tasks[0].title"),
            "{issues}"
        );
    }

    #[test]
    fn instructions_are_trimmed_and_bounded_not_cut() {
        assert_eq!(parse_instruction(None), Ok(None));
        assert_eq!(parse_instruction(Some(&Value::Null)), Ok(None));
        assert_eq!(parse_instruction(Some(&json!("  "))), Ok(None));
        assert_eq!(
            parse_instruction(Some(&json!(" more hands-on "))),
            Ok(Some("more hands-on".into()))
        );
        assert!(parse_instruction(Some(&json!(5))).is_err());
        assert!(parse_instruction(Some(&json!("a\u{0}b"))).is_err());
        let long = "x".repeat(INSTRUCTION_MAX_CHARS + 1);
        assert!(parse_instruction(Some(&json!(long))).is_err());
    }

    #[test]
    fn a_draft_shows_the_valid_fields_and_tasks_up_to_the_first_invalid_one() {
        let doc = json!({"title": " Ownership ", "estimated_minutes": 1000, "description": "  ",
            "tasks": [{"title": "Read", "estimated_minutes": 200, "description": null},
                      {"title": "", "estimated_minutes": 10, "description": null},
                      {"title": "Later", "estimated_minutes": 10, "description": null}]});
        let d = module_draft(&doc);
        assert_eq!(d.title.as_deref(), Some("Ownership"));
        assert_eq!(d.description, None);
        assert_eq!(d.estimated_minutes, Some(MODULE_MINUTES.max));
        assert_eq!(d.tasks.len(), 1);
        assert_eq!(d.tasks[0].estimated_minutes, crate::plan::TASK_MINUTES.max);
        assert_eq!(module_draft(&json!({"tasks": []})), ModuleDraft::default());
    }

    fn title() -> impl Strategy<Value = String> {
        "[A-Za-z][a-z]{2,12}( [a-z]{2,10}){0,3}"
    }

    proptest! {
        #[test]
        fn an_instruction_is_accepted_iff_it_fits_once_trimmed(s in "\\PC{0,600}") {
            let trimmed = s.trim();
            let got = parse_instruction(Some(&json!(s)));
            if trimmed.is_empty() {
                prop_assert_eq!(got, Ok(None));
            } else if trimmed.chars().count() > INSTRUCTION_MAX_CHARS {
                prop_assert!(got.is_err());
            } else {
                prop_assert_eq!(got, Ok(Some(trimmed.to_owned())));
            }
        }

        #[test]
        fn a_title_equal_to_another_modules_once_folded_is_refused(
            own in title(),
            others in proptest::collection::vec(title(), 0..5),
            shout in any::<bool>(),
            order in 1u32..24,
        ) {
            let tasks = [("Practise it", 30u32), ("Review the notes", 20)];
            let doc = module(&own, &tasks);
            let clash = others.iter().any(|o| fold(o) == fold(&own));
            let r = validate_regenerated_module(&doc, order, &others, &ExampleTexts::default());
            prop_assert_eq!(r.is_err(), clash);
            if let Ok(m) = &r {
                prop_assert_eq!(m.order, order);
            }
            // The same title in other clothes is still the same title.
            let disguised = if shout { format!("  {}!! ", own.to_uppercase()) } else { format!("{own}.") };
            let mut with = others.clone();
            with.push(disguised);
            let r = validate_regenerated_module(&doc, order, &with, &ExampleTexts::default());
            prop_assert_eq!(paths(r), vec!["title".to_owned()]);
        }

        #[test]
        fn a_complete_valid_module_drafts_as_it_validates(
            titles in proptest::collection::btree_set("[a-z]{3,10} [a-z]{3,10}", 1..8),
            minutes in proptest::collection::vec(5u32..=120, 8),
        ) {
            let tasks: Vec<(&str, u32)> =
                titles.iter().zip(&minutes).map(|(t, m)| (t.as_str(), *m)).collect();
            let doc = module("Module of its own", &tasks);
            let draft = module_draft(&doc);
            let valid = validate_regenerated_module(&doc, 1, &[], &ExampleTexts::default());
            let valid = valid.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(draft.tasks, valid.tasks);
            prop_assert_eq!(draft.title, Some(valid.title));
        }
    }
}
