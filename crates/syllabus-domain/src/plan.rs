//! Validation and normalization of a generated learning plan.
//!
//! The model's output is checked against the rules of the product (SPEC section 1) and turned
//! into a [`NormalizedPlan`]: efforts rounded and clamped, modules and tasks numbered 1..N in the
//! order the model gave them. Every problem is reported with its path
//! (`modules[2].tasks[0].estimated_minutes`), so that a re-ask can tell the model exactly what to
//! fix.

use serde::Serialize;
use serde_json::Value;

use crate::fields::{Located, optional_text, required_text};
use crate::issues::{Issues, parse_json};

/// Fewest modules a plan may have.
pub const MIN_MODULES: usize = 1;
/// Most modules a plan may have.
pub const MAX_MODULES: usize = 24;
/// Fewest tasks a module may have.
pub const MIN_TASKS: usize = 1;
/// Most tasks a module may have.
pub const MAX_TASKS: usize = 20;
/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;
/// Bounds of a module's effort, in minutes.
pub const MODULE_MINUTES: Bounds = Bounds { min: 15, max: 480 };
/// Bounds of a task's effort, in minutes.
pub const TASK_MINUTES: Bounds = Bounds { min: 5, max: 120 };

/// Inclusive bounds of an effort, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Lowest value kept.
    pub min: u32,
    /// Highest value kept.
    pub max: u32,
}

/// An effort after rounding and clamping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effort {
    /// Minutes within the bounds.
    pub minutes: u32,
    /// Whether clamping changed the (rounded) value.
    pub clamped: bool,
    /// Whether the model's value was fractional.
    pub rounded: bool,
}

impl Bounds {
    /// Rounds a positive effort to whole minutes and clamps it into the bounds.
    ///
    /// Returns `None` for a value that is not a finite number greater than zero: such a value is a
    /// validation failure, not something to repair.
    #[must_use]
    pub fn normalize(self, raw: f64) -> Option<Effort> {
        if !raw.is_finite() || raw <= 0.0 {
            return None;
        }
        let rounded_value = raw.round();
        let rounded = (rounded_value - raw).abs() > f64::EPSILON;
        let within = rounded_value.clamp(f64::from(self.min), f64::from(self.max));
        let clamped = (within - rounded_value).abs() > f64::EPSILON;
        // `within` is an integer in [min, max] ⊂ u32, so the conversion is exact.
        let minutes = u32::try_from(within as i64).ok()?;
        Some(Effort {
            minutes,
            clamped,
            rounded,
        })
    }
}

/// A task ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedTask {
    /// 1..N within its module.
    pub order: u32,
    /// Trimmed, non-empty.
    pub title: String,
    /// Trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// Clamped to 5–120.
    pub estimated_minutes: u32,
    /// Whether clamping changed the effort.
    pub clamped: bool,
}

/// A module ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedModule {
    /// 1..N within its plan.
    pub order: u32,
    /// Trimmed, non-empty.
    pub title: String,
    /// Trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// Clamped to 15–480.
    pub estimated_minutes: u32,
    /// Whether clamping changed the effort.
    pub clamped: bool,
    /// At least one task, in order.
    pub tasks: Vec<NormalizedTask>,
}

/// What normalization changed, for the attempt record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NormalizationReport {
    /// Number of modules.
    pub modules_count: u32,
    /// Number of tasks over all modules.
    pub tasks_count: u32,
    /// Modules whose effort was clamped.
    pub modules_clamped: u32,
    /// Tasks whose effort was clamped.
    pub tasks_clamped: u32,
    /// Whether any effort was rounded or clamped.
    pub effort_normalized: bool,
}

/// A plan that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedPlan {
    /// 1..24 modules in the model's order.
    pub modules: Vec<NormalizedModule>,
    /// Counts and flags.
    pub report: NormalizationReport,
}

impl NormalizedPlan {
    /// Sum of the modules' minutes.
    #[must_use]
    pub fn total_minutes(&self) -> u64 {
        self.modules
            .iter()
            .map(|m| u64::from(m.estimated_minutes))
            .sum()
    }
}

/// Validates the model's text: JSON of the `learning_plan` schema obeying every rule.
///
/// # Errors
/// Every issue found, each with its path; a text that is not JSON gives one issue at the root.
pub fn validate_plan_text(text: &str) -> Result<NormalizedPlan, Issues> {
    validate_plan(&parse_json(text)?)
}

/// Validates a client's own modules (an import, `POST /plans` with `modules`): the rules of
/// [`validate_plan`], except that an effort is never rounded or clamped: each must already be a
/// whole number of minutes within its bounds, else it is an issue at its path.
///
/// # Errors
/// Every issue found, each with its path (`modules[1].tasks[0].estimated_minutes`).
pub fn validate_import(modules: &Value) -> Result<NormalizedPlan, Issues> {
    let plan = validate_plan(&serde_json::json!({ "modules": modules }))?;
    let mut issues = Issues::default();
    let whole = |v: &Value| v.get("estimated_minutes").is_some_and(Value::is_u64);
    let bounds = |b: Bounds| format!("must be from {} to {}", b.min, b.max);
    for ((i, raw), module) in modules
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .zip(&plan.modules)
    {
        let at = format!("modules[{i}].estimated_minutes");
        if !whole(raw) {
            issues.push(at, "must be a whole number of minutes");
        } else if module.clamped {
            issues.push(at, bounds(MODULE_MINUTES));
        }
        let tasks = raw["tasks"].as_array().into_iter().flatten();
        for ((j, raw), task) in tasks.enumerate().zip(&module.tasks) {
            let at = format!("modules[{i}].tasks[{j}].estimated_minutes");
            if !whole(raw) {
                issues.push(at, "must be a whole number of minutes");
            } else if task.clamped {
                issues.push(at, bounds(TASK_MINUTES));
            }
        }
    }
    issues.into_result(plan)
}

/// Validates a parsed `learning_plan` document.
///
/// # Errors
/// Every issue found, each with its path.
pub fn validate_plan(doc: &Value) -> Result<NormalizedPlan, Issues> {
    let mut issues = Issues::default();
    let Some(modules) = doc.get("modules").and_then(Value::as_array) else {
        issues.push("modules", "must be an array of modules");
        return Err(issues);
    };
    if !(MIN_MODULES..=MAX_MODULES).contains(&modules.len()) {
        issues.push(
            "modules",
            format!(
                "must hold {MIN_MODULES} to {MAX_MODULES} modules, found {}",
                modules.len()
            ),
        );
    }
    let mut report = NormalizationReport::default();
    let mut out = Vec::with_capacity(modules.len().min(MAX_MODULES));
    for (index, module) in modules.iter().enumerate() {
        if let Some((module, rounded)) = check_module(module, index, &mut issues) {
            report.tasks_count += u32::try_from(module.tasks.len()).unwrap_or(u32::MAX);
            report.tasks_clamped +=
                u32::try_from(module.tasks.iter().filter(|t| t.clamped).count())
                    .unwrap_or(u32::MAX);
            report.modules_clamped += u32::from(module.clamped);
            report.effort_normalized |=
                rounded || module.clamped || module.tasks.iter().any(|t| t.clamped);
            out.push(module);
        }
    }
    report.modules_count = u32::try_from(out.len()).unwrap_or(u32::MAX);
    issues.into_result(NormalizedPlan {
        modules: out,
        report,
    })
}

/// Validates one module at `index` (0-based), as the streaming parser does for the first module
/// to decide whether the generation deadline may be extended.
///
/// # Errors
/// Every issue found in the module, with paths under `modules[index]`.
pub fn validate_module(module: &Value, index: usize) -> Result<NormalizedModule, Issues> {
    let mut issues = Issues::default();
    let checked = check_module(module, index, &mut issues);
    match checked {
        Some((module, _)) if issues.is_empty() => Ok(module),
        _ => Err(issues),
    }
}

/// Where in the document a value sits; formatted into a path only when an issue is reported,
/// so a valid plan costs no path strings.
#[derive(Clone, Copy)]
struct Loc {
    module: usize,
    task: Option<usize>,
}

impl Located for Loc {
    fn path(self) -> String {
        match self.task {
            None => format!("modules[{}]", self.module),
            Some(t) => format!("modules[{}].tasks[{t}]", self.module),
        }
    }
}

/// Returns the module and whether any effort in it was rounded.
fn check_module(
    value: &Value,
    index: usize,
    issues: &mut Issues,
) -> Option<(NormalizedModule, bool)> {
    let loc = Loc {
        module: index,
        task: None,
    };
    if !value.is_object() {
        issues.push(loc.path(), "must be an object");
        return None;
    }
    let before = issues.as_slice().len();
    let title = required_text(value, "title", TITLE_MAX_CHARS, loc, issues);
    let description = optional_text(value, "description", DESCRIPTION_MAX_CHARS, loc, issues);
    let effort = check_minutes(value, loc, MODULE_MINUTES, issues);
    let mut tasks = Vec::new();
    let mut rounded = effort.is_some_and(|e| e.rounded);
    match value.get("tasks").and_then(Value::as_array) {
        None => issues.push(loc.field("tasks"), "must be an array of tasks"),
        Some(raw_tasks) => {
            if !(MIN_TASKS..=MAX_TASKS).contains(&raw_tasks.len()) {
                issues.push(
                    loc.field("tasks"),
                    format!(
                        "must hold {MIN_TASKS} to {MAX_TASKS} tasks, found {}",
                        raw_tasks.len()
                    ),
                );
            }
            tasks.reserve(raw_tasks.len().min(MAX_TASKS));
            for (t, task) in raw_tasks.iter().enumerate() {
                let task_loc = Loc {
                    module: index,
                    task: Some(t),
                };
                if let Some((task, task_rounded)) = check_task(task, task_loc, tasks.len(), issues)
                {
                    rounded |= task_rounded;
                    tasks.push(task);
                }
            }
        }
    }
    if issues.as_slice().len() > before {
        return None;
    }
    let (title, description, effort) = (title?, description?, effort?);
    Some((
        NormalizedModule {
            order: u32::try_from(index + 1).unwrap_or(u32::MAX),
            title,
            description,
            estimated_minutes: effort.minutes,
            clamped: effort.clamped,
            tasks,
        },
        rounded,
    ))
}

/// One task after `before` valid ones; returns it and whether its effort was rounded.
fn check_task(
    task: &Value,
    loc: Loc,
    before: usize,
    issues: &mut Issues,
) -> Option<(NormalizedTask, bool)> {
    if !task.is_object() {
        issues.push(loc.path(), "must be an object");
        return None;
    }
    let title = required_text(task, "title", TITLE_MAX_CHARS, loc, issues);
    let description = optional_text(task, "description", DESCRIPTION_MAX_CHARS, loc, issues);
    let effort = check_minutes(task, loc, TASK_MINUTES, issues);
    let (title, description, effort) = (title?, description?, effort?);
    Some((
        NormalizedTask {
            order: u32::try_from(before + 1).unwrap_or(u32::MAX),
            title,
            description,
            estimated_minutes: effort.minutes,
            clamped: effort.clamped,
        },
        effort.rounded,
    ))
}

/// Validates one task of a streamed module, for a draft (issue #21): the task at `order`
/// (1-based) when it passes every rule of a plan's task, with its effort clamped.
#[must_use]
pub fn validate_task(task: &Value, order: usize) -> Option<NormalizedTask> {
    let loc = Loc {
        module: 0,
        task: Some(order.saturating_sub(1)),
    };
    let mut issues = Issues::default();
    check_task(task, loc, order.saturating_sub(1), &mut issues).map(|(t, _)| t)
}

fn check_minutes(value: &Value, loc: Loc, bounds: Bounds, issues: &mut Issues) -> Option<Effort> {
    match value.get("estimated_minutes") {
        None | Some(Value::Null) => issues.push(loc.field("estimated_minutes"), "is missing"),
        Some(Value::Number(n)) => match n.as_f64().and_then(|raw| bounds.normalize(raw)) {
            Some(effort) => return Some(effort),
            None => issues.push(
                loc.field("estimated_minutes"),
                "must be a number of minutes greater than 0",
            ),
        },
        Some(_) => issues.push(loc.field("estimated_minutes"), "must be a number"),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn task(minutes: Value) -> Value {
        json!({"title": "Read", "description": "ch. 1", "estimated_minutes": minutes})
    }

    fn module(minutes: Value, tasks: Vec<Value>) -> Value {
        json!({"title": "Basics", "description": null, "estimated_minutes": minutes, "tasks": tasks})
    }

    fn paths(issues: &Issues) -> Vec<String> {
        issues.as_slice().iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn an_import_keeps_its_efforts_or_is_refused_at_their_paths() {
        let ok = validate_import(&json!([module(
            json!(60),
            vec![task(json!(30)), task(json!(30))]
        )]));
        assert_eq!(ok.map(|p| p.total_minutes()).ok(), Some(60));
        let bad = json!([
            module(json!(500), vec![task(json!(30)), task(json!(1))]),
            module(json!(30.5), vec![task(json!(30))]),
        ]);
        assert_eq!(
            validate_import(&bad)
                .err()
                .map(|e| paths(&e))
                .unwrap_or_default(),
            [
                "modules[0].estimated_minutes",
                "modules[0].tasks[1].estimated_minutes",
                "modules[1].estimated_minutes"
            ]
        );
    }

    #[test]
    fn nul_in_generated_text_is_a_validation_issue_not_a_failed_insert() {
        let doc = json!({"modules": [{"title": "Basics\0", "description": "a\0b",
            "estimated_minutes": 60, "tasks": [task(json!(10))]}]});
        assert_eq!(
            paths(&validate_plan(&doc).unwrap_err()),
            ["modules[0].title", "modules[0].description"]
        );
    }

    #[test]
    fn a_valid_plan_is_numbered_in_model_order() {
        let doc = json!({"modules": [
            module(json!(60), vec![task(json!(10)), task(json!(20))]),
            module(json!(90), vec![task(json!(30))]),
        ]});
        let plan = validate_plan(&doc).unwrap();
        assert_eq!(
            plan.modules.iter().map(|m| m.order).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(
            plan.modules[0]
                .tasks
                .iter()
                .map(|t| t.order)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(plan.modules[1].tasks[0].order, 1);
        assert_eq!(plan.report.modules_count, 2);
        assert_eq!(plan.report.tasks_count, 3);
        assert!(!plan.report.effort_normalized);
        assert_eq!(plan.total_minutes(), 150);
    }

    #[test]
    fn efforts_are_clamped_and_counted() {
        let doc = json!({"modules": [module(json!(5), vec![task(json!(500)), task(json!(1)), task(json!(50))])]});
        let plan = validate_plan(&doc).unwrap();
        let m = &plan.modules[0];
        assert_eq!(m.estimated_minutes, 15);
        assert!(m.clamped);
        assert_eq!(
            m.tasks
                .iter()
                .map(|t| t.estimated_minutes)
                .collect::<Vec<_>>(),
            [120, 5, 50]
        );
        assert_eq!(plan.report.modules_clamped, 1);
        assert_eq!(plan.report.tasks_clamped, 2);
        assert!(plan.report.effort_normalized);
    }

    #[test]
    fn fractional_efforts_are_rounded_and_flagged() {
        let doc = json!({"modules": [module(json!(30.6), vec![task(json!(7.4))])]});
        let plan = validate_plan(&doc).unwrap();
        assert_eq!(plan.modules[0].estimated_minutes, 31);
        assert_eq!(plan.modules[0].tasks[0].estimated_minutes, 7);
        assert_eq!(plan.report.modules_clamped, 0);
        assert!(plan.report.effort_normalized);
    }

    #[test]
    fn clamp_bounds_are_inclusive() {
        assert_eq!(
            MODULE_MINUTES
                .normalize(15.0)
                .map(|e| (e.minutes, e.clamped)),
            Some((15, false))
        );
        assert_eq!(
            MODULE_MINUTES
                .normalize(480.0)
                .map(|e| (e.minutes, e.clamped)),
            Some((480, false))
        );
        assert_eq!(
            MODULE_MINUTES
                .normalize(481.0)
                .map(|e| (e.minutes, e.clamped)),
            Some((480, true))
        );
        assert_eq!(
            TASK_MINUTES.normalize(4.0).map(|e| (e.minutes, e.clamped)),
            Some((5, true))
        );
        assert_eq!(TASK_MINUTES.normalize(1e300).map(|e| e.minutes), Some(120));
    }

    #[test]
    fn missing_non_numeric_and_non_positive_minutes_are_validation_errors() {
        let doc = json!({"modules": [
            {"title": "A", "tasks": [task(json!(0))]},
            module(json!("thirty"), vec![task(json!(-3))]),
        ]});
        let issues = validate_plan(&doc).unwrap_err();
        assert_eq!(
            paths(&issues),
            [
                "modules[0].estimated_minutes",
                "modules[0].tasks[0].estimated_minutes",
                "modules[1].estimated_minutes",
                "modules[1].tasks[0].estimated_minutes",
            ]
        );
    }

    #[test]
    fn a_plan_without_modules_or_a_module_without_tasks_is_invalid() {
        assert_eq!(
            paths(&validate_plan(&json!({"modules": []})).unwrap_err()),
            ["modules"]
        );
        assert_eq!(
            paths(&validate_plan(&json!({"plan": []})).unwrap_err()),
            ["modules"]
        );
        let doc = json!({"modules": [module(json!(30), vec![])]});
        assert_eq!(
            paths(&validate_plan(&doc).unwrap_err()),
            ["modules[0].tasks"]
        );
    }

    #[test]
    fn too_many_modules_or_tasks_are_invalid() {
        let tasks: Vec<Value> = (0..21).map(|_| task(json!(10))).collect();
        let doc = json!({"modules": [module(json!(30), tasks)]});
        assert_eq!(
            paths(&validate_plan(&doc).unwrap_err()),
            ["modules[0].tasks"]
        );
        let modules: Vec<Value> = (0..25)
            .map(|_| module(json!(30), vec![task(json!(10))]))
            .collect();
        assert_eq!(
            paths(&validate_plan(&json!({"modules": modules})).unwrap_err()),
            ["modules"]
        );
    }

    #[test]
    fn titles_must_be_non_empty_short_and_have_a_letter_or_digit() {
        let doc = json!({"modules": [
            {"title": "   ", "estimated_minutes": 30, "tasks": [{"title": "x".repeat(201), "estimated_minutes": 10}]},
        ]});
        assert_eq!(
            paths(&validate_plan(&doc).unwrap_err()),
            ["modules[0].title", "modules[0].tasks[0].title"]
        );
        let placeholders = json!({"modules": [
            {"title": "…", "estimated_minutes": 30, "tasks": [{"title": "Step 1", "estimated_minutes": 10}, {"title": "...", "estimated_minutes": 10}]},
        ]});
        assert_eq!(
            paths(&validate_plan(&placeholders).unwrap_err()),
            ["modules[0].title", "modules[0].tasks[1].title"]
        );
    }

    #[test]
    fn descriptions_are_optional_trimmed_and_bounded() {
        let doc = json!({"modules": [
            {"title": " A ", "description": "  ", "estimated_minutes": 30, "tasks": [{"title": "t", "estimated_minutes": 10}]},
        ]});
        let plan = validate_plan(&doc).unwrap();
        assert_eq!(plan.modules[0].title, "A");
        assert_eq!(plan.modules[0].description, None);
        let long = json!({"modules": [
            {"title": "A", "description": "d".repeat(2001), "estimated_minutes": 30, "tasks": [{"title": "t", "estimated_minutes": 10}]},
        ]});
        assert_eq!(
            paths(&validate_plan(&long).unwrap_err()),
            ["modules[0].description"]
        );
    }

    #[test]
    fn text_that_is_not_json_is_one_root_issue() {
        let issues = validate_plan_text("{\"modules\": [").unwrap_err();
        assert_eq!(paths(&issues), [""]);
    }

    #[test]
    fn a_single_module_can_be_checked_on_its_own() {
        assert!(validate_module(&module(json!(30), vec![task(json!(10))]), 0).is_ok());
        let err = validate_module(&json!({"title": "x"}), 3).unwrap_err();
        assert_eq!(
            paths(&err),
            ["modules[3].estimated_minutes", "modules[3].tasks"]
        );
    }

    proptest! {
        #[test]
        fn normalization_lands_in_bounds_and_numbers_contiguously(
            modules in prop::collection::vec(
                (0.01f64..10_000.0, prop::collection::vec(0.01f64..10_000.0, 1..=20)),
                1..=24,
            )
        ) {
            let doc = json!({"modules": modules.iter().map(|(m, tasks)| {
                module(json!(m), tasks.iter().map(|t| task(json!(t))).collect())
            }).collect::<Vec<_>>()});
            let plan = validate_plan(&doc).unwrap();
            prop_assert_eq!(plan.modules.len(), modules.len());
            let mut clamped_tasks = 0;
            for (i, m) in plan.modules.iter().enumerate() {
                prop_assert_eq!(m.order as usize, i + 1);
                prop_assert!((15..=480).contains(&m.estimated_minutes));
                prop_assert_eq!(m.tasks.len(), modules[i].1.len());
                for (j, t) in m.tasks.iter().enumerate() {
                    prop_assert_eq!(t.order as usize, j + 1);
                    prop_assert!((5..=120).contains(&t.estimated_minutes));
                    clamped_tasks += u32::from(t.clamped);
                }
            }
            prop_assert_eq!(plan.report.tasks_clamped, clamped_tasks);
        }

        #[test]
        fn any_non_positive_effort_fails_validation(bad in -1_000.0f64..=0.0) {
            let doc = json!({"modules": [module(json!(30), vec![task(json!(bad))])]});
            let issues = validate_plan(&doc).unwrap_err();
            prop_assert_eq!(paths(&issues), vec!["modules[0].tasks[0].estimated_minutes".to_owned()]);
        }
    }
}
