//! A plan edited by hand (issue #21): the bodies of `PATCH /modules/{id}`, `PATCH /tasks/{id}`,
//! `POST /plans/{id}/modules` and `POST /modules/{id}/tasks`, checked field by field against the
//! bounds of SPEC §1 (the constants of [`crate::plan`]).
//!
//! Unlike a model's answer nothing is clamped or rounded: an effort out of bounds, a fractional
//! one, an empty title, an unknown field is an issue at its path (`estimated_minutes`,
//! `tasks[2].title`). The degenerate-answer rules of [`crate::quality`] do not apply: a learner's
//! own text is taken as given, as for an import. Positions (`order`) are checked here to be
//! whole numbers from 1; their upper bound depends on the plan and is checked by
//! [`crate::ordering`] under the plan's lock.

use serde_json::{Map, Value};

use crate::changes::Patch;
use crate::fields::{NUL_MESSAGE, exceeds, required_str};
use crate::ids::ModuleId;
use crate::issues::Issues;
use crate::plan::{
    Bounds, DESCRIPTION_MAX_CHARS, MAX_TASKS, MIN_TASKS, MODULE_MINUTES, TASK_MINUTES,
    TITLE_MAX_CHARS,
};

/// The fields `PATCH /modules/{id}` takes.
pub const MODULE_CHANGE_FIELDS: [&str; 4] = ["title", "description", "estimated_minutes", "order"];
/// The fields `PATCH /tasks/{id}` takes.
pub const TASK_CHANGE_FIELDS: [&str; 5] = [
    "title",
    "description",
    "estimated_minutes",
    "order",
    "module_id",
];
/// The fields `POST /plans/{id}/modules` takes.
pub const NEW_MODULE_FIELDS: [&str; 5] = [
    "title",
    "description",
    "estimated_minutes",
    "order",
    "tasks",
];
/// The fields `POST /modules/{id}/tasks` takes.
pub const NEW_TASK_FIELDS: [&str; 4] = ["title", "description", "estimated_minutes", "order"];
/// The fields of a task inside a new module.
const MODULE_TASK_FIELDS: [&str; 3] = ["title", "description", "estimated_minutes"];

/// Changes to a module (a merge patch: a field left out is kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleChanges {
    /// A new title, trimmed.
    pub title: Option<String>,
    /// A new description; `null` or blank clears it.
    pub description: Patch<String>,
    /// New minutes, within [`MODULE_MINUTES`].
    pub estimated_minutes: Option<u32>,
    /// A new position among the plan's modules (1..N, checked against N by the store).
    pub order: Option<usize>,
}

/// Changes to a task (a merge patch: a field left out is kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskChanges {
    /// A new title, trimmed.
    pub title: Option<String>,
    /// A new description; `null` or blank clears it.
    pub description: Patch<String>,
    /// New minutes, within [`TASK_MINUTES`].
    pub estimated_minutes: Option<u32>,
    /// A new position within its module (or within `module_id`'s, where it lands).
    pub order: Option<usize>,
    /// Another module of the same plan to move the task to (checked by the store).
    pub module_id: Option<ModuleId>,
}

/// A task to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// Trimmed, non-empty.
    pub title: String,
    /// Trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// Within [`TASK_MINUTES`].
    pub estimated_minutes: u32,
    /// Where it lands (1..N+1); `None`: last.
    pub order: Option<usize>,
}

/// A module to add, with its tasks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewModule {
    /// Trimmed, non-empty.
    pub title: String,
    /// Trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// Within [`MODULE_MINUTES`].
    pub estimated_minutes: u32,
    /// Where it lands (1..N+1); `None`: last.
    pub order: Option<usize>,
    /// 1–20 tasks, in order (their own `order` is their place in the array).
    pub tasks: Vec<NewTask>,
}

/// `prefix` + `name`: the path of a field of the body (`title`) or of an item (`tasks[2].title`).
fn at(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// The body as an object, every field it holds that `known` does not name reported.
fn object<'a>(
    body: &'a Value,
    known: &[&str],
    prefix: &str,
    issues: &mut Issues,
) -> Option<&'a Map<String, Value>> {
    let Some(map) = body.as_object() else {
        let path = if prefix.is_empty() {
            "body".to_owned()
        } else {
            prefix.trim_end_matches('.').to_owned()
        };
        issues.push(path, "must be a JSON object");
        return None;
    };
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        issues.push(
            at(prefix, key),
            format!("is not a field here; the fields are {}", known.join(", ")),
        );
    }
    Some(map)
}

fn title(value: Option<&Value>, path: &str, issues: &mut Issues) -> Option<String> {
    required_str(value, TITLE_MAX_CHARS, || path.to_owned(), issues)
}

/// A description: `null` or blank clears it.
fn description(value: Option<&Value>, path: &str, issues: &mut Issues) -> Option<Patch<String>> {
    match value {
        None => Some(Patch::Keep),
        Some(Value::Null) => Some(Patch::Clear),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.contains('\0') {
                issues.push(path, NUL_MESSAGE);
                None
            } else if exceeds(s, DESCRIPTION_MAX_CHARS) {
                issues.push(
                    path,
                    format!("must have at most {DESCRIPTION_MAX_CHARS} characters"),
                );
                None
            } else if s.is_empty() {
                Some(Patch::Clear)
            } else {
                Some(Patch::Set(s.to_owned()))
            }
        }
        Some(_) => {
            issues.push(path, "must be a string or null");
            None
        }
    }
}

/// Minutes as given: a whole number within `bounds`, never rounded or clamped.
fn minutes(value: Option<&Value>, bounds: Bounds, path: &str, issues: &mut Issues) -> Option<u32> {
    let range = format!("from {} to {}", bounds.min, bounds.max);
    match value {
        None => issues.push(path, "is required"),
        Some(Value::Number(n)) => match n.as_u64().and_then(|m| u32::try_from(m).ok()) {
            Some(m) if (bounds.min..=bounds.max).contains(&m) => return Some(m),
            Some(_) => issues.push(path, format!("must be {range}")),
            None if n.is_i64() => issues.push(path, format!("must be {range}")),
            None => issues.push(path, "must be a whole number of minutes"),
        },
        Some(_) => issues.push(path, format!("must be a whole number of minutes {range}")),
    }
    None
}

/// A position: a whole number from 1 (its upper bound is the store's to check).
fn order(value: Option<&Value>, path: &str, issues: &mut Issues) -> Option<Option<usize>> {
    match value {
        None => Some(None),
        Some(Value::Number(n)) => match n.as_u64().and_then(|p| usize::try_from(p).ok()) {
            Some(p) if p >= 1 => Some(Some(p)),
            _ => {
                issues.push(path, "must be a whole number from 1");
                None
            }
        },
        Some(_) => {
            issues.push(path, "must be a whole number from 1");
            None
        }
    }
}

/// A field of a merge patch that may be left out but not cleared.
fn set<T>(
    map: &Map<String, Value>,
    name: &str,
    issues: &mut Issues,
    check: impl FnOnce(Option<&Value>, &str, &mut Issues) -> Option<T>,
) -> Option<Option<T>> {
    match map.get(name) {
        None => Some(None),
        Some(Value::Null) => {
            issues.push(name, "cannot be null (leave it out to keep it)");
            None
        }
        value => check(value, name, issues).map(Some),
    }
}

impl ModuleChanges {
    /// Checks a `PATCH /modules/{id}` body.
    ///
    /// # Errors
    /// Every field at fault, by name; any field it does not take.
    pub fn parse(body: &Value) -> Result<Self, Issues> {
        let mut issues = Issues::default();
        let Some(map) = object(body, &MODULE_CHANGE_FIELDS, "", &mut issues) else {
            return Err(issues);
        };
        let title = set(map, "title", &mut issues, title);
        let description = description(map.get("description"), "description", &mut issues);
        let minutes = set(map, "estimated_minutes", &mut issues, |v, p, i| {
            minutes(v, MODULE_MINUTES, p, i)
        });
        let order = set(map, "order", &mut issues, order).map(Option::flatten);
        match (title, description, minutes, order) {
            (Some(title), Some(description), Some(estimated_minutes), Some(order))
                if issues.is_empty() =>
            {
                Ok(Self {
                    title,
                    description,
                    estimated_minutes,
                    order,
                })
            }
            _ => Err(issues),
        }
    }
}

impl TaskChanges {
    /// Checks a `PATCH /tasks/{id}` body.
    ///
    /// # Errors
    /// Every field at fault, by name; any field it does not take.
    pub fn parse(body: &Value) -> Result<Self, Issues> {
        let mut issues = Issues::default();
        let Some(map) = object(body, &TASK_CHANGE_FIELDS, "", &mut issues) else {
            return Err(issues);
        };
        let title = set(map, "title", &mut issues, title);
        let description = description(map.get("description"), "description", &mut issues);
        let minutes = set(map, "estimated_minutes", &mut issues, |v, p, i| {
            minutes(v, TASK_MINUTES, p, i)
        });
        let order = set(map, "order", &mut issues, order).map(Option::flatten);
        let module_id = set(map, "module_id", &mut issues, |v, p, i| {
            // Only the hyphenated form (the document's `format: uuid`), as for job payloads.
            let id = v
                .and_then(Value::as_str)
                .filter(|s| s.len() == 36)
                .and_then(|s| s.parse().ok());
            if id.is_none() {
                i.push(p, "must be the id of a module of the same plan");
            }
            id
        });
        match (title, description, minutes, order, module_id) {
            (
                Some(title),
                Some(description),
                Some(estimated_minutes),
                Some(order),
                Some(module_id),
            ) if issues.is_empty() => Ok(Self {
                title,
                description,
                estimated_minutes,
                order,
                module_id,
            }),
            _ => Err(issues),
        }
    }
}

/// A new task at `prefix` (`""` for a body, `tasks[2].` inside a module), taking `known` fields.
fn new_task(body: &Value, prefix: &str, known: &[&str], issues: &mut Issues) -> Option<NewTask> {
    let map = object(body, known, prefix, issues)?;
    let title = title(map.get("title"), &at(prefix, "title"), issues);
    let description = description(map.get("description"), &at(prefix, "description"), issues);
    let minutes = minutes(
        map.get("estimated_minutes"),
        TASK_MINUTES,
        &at(prefix, "estimated_minutes"),
        issues,
    );
    let order = order(map.get("order"), &at(prefix, "order"), issues);
    Some(NewTask {
        title: title?,
        description: description?.apply(None),
        estimated_minutes: minutes?,
        order: order?,
    })
}

impl NewTask {
    /// Checks a `POST /modules/{id}/tasks` body.
    ///
    /// # Errors
    /// Every field at fault, by name; any field it does not take.
    pub fn parse(body: &Value) -> Result<Self, Issues> {
        let mut issues = Issues::default();
        let task = new_task(body, "", &NEW_TASK_FIELDS, &mut issues);
        match task {
            Some(task) if issues.is_empty() => Ok(task),
            _ => Err(issues),
        }
    }
}

impl NewModule {
    /// Checks a `POST /plans/{id}/modules` body, its tasks at `tasks[i].…`.
    ///
    /// # Errors
    /// Every field at fault, by path; any field it does not take.
    pub fn parse(body: &Value) -> Result<Self, Issues> {
        let mut issues = Issues::default();
        let Some(map) = object(body, &NEW_MODULE_FIELDS, "", &mut issues) else {
            return Err(issues);
        };
        let title = title(map.get("title"), "title", &mut issues);
        let description = description(map.get("description"), "description", &mut issues);
        let minutes = minutes(
            map.get("estimated_minutes"),
            MODULE_MINUTES,
            "estimated_minutes",
            &mut issues,
        );
        let order = order(map.get("order"), "order", &mut issues);
        let mut tasks = Vec::new();
        match map.get("tasks").and_then(Value::as_array) {
            None => issues.push("tasks", "must be an array of tasks"),
            Some(items) => {
                if !(MIN_TASKS..=MAX_TASKS).contains(&items.len()) {
                    issues.push(
                        "tasks",
                        format!(
                            "must hold {MIN_TASKS} to {MAX_TASKS} tasks, found {}",
                            items.len()
                        ),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    let prefix = format!("tasks[{i}].");
                    tasks.extend(new_task(item, &prefix, &MODULE_TASK_FIELDS, &mut issues));
                }
            }
        }
        match (title, description, minutes, order) {
            (Some(title), Some(description), Some(estimated_minutes), Some(order))
                if issues.is_empty() =>
            {
                Ok(Self {
                    title,
                    description: description.apply(None),
                    estimated_minutes,
                    order,
                    tasks,
                })
            }
            _ => Err(issues),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(issues: Result<impl std::fmt::Debug, Issues>) -> Vec<String> {
        issues
            .err()
            .map(|i| i.into_vec().into_iter().map(|i| i.path).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_module_patch_keeps_what_it_leaves_out_and_clears_a_blank_description() {
        let c = ModuleChanges::parse(&json!({"title": "  Basics ", "description": ""}));
        assert_eq!(
            c,
            Ok(ModuleChanges {
                title: Some("Basics".into()),
                description: Patch::Clear,
                ..ModuleChanges::default()
            })
        );
        let c = ModuleChanges::parse(&json!({"estimated_minutes": 480, "order": 2}));
        assert_eq!(
            c.map(|c| (c.estimated_minutes, c.order)),
            Ok((Some(480), Some(2)))
        );
        assert_eq!(
            ModuleChanges::parse(&json!({})),
            Ok(ModuleChanges::default())
        );
    }

    #[test]
    fn every_bad_field_of_a_patch_is_named_never_clamped() {
        let bad = json!({"title": " ", "estimated_minutes": 14, "order": 0, "colour": "red"});
        assert_eq!(
            fields(ModuleChanges::parse(&bad)),
            ["colour", "title", "estimated_minutes", "order"]
        );
        for minutes in [json!(481), json!(30.5), json!(-5), json!("30"), json!(null)] {
            let body = json!({ "estimated_minutes": minutes });
            assert_eq!(fields(ModuleChanges::parse(&body)), ["estimated_minutes"]);
        }
        let long = "x".repeat(TITLE_MAX_CHARS + 1);
        assert_eq!(
            fields(TaskChanges::parse(&json!({"title": long}))),
            ["title"]
        );
        let task = json!({"estimated_minutes": 121, "module_id": "nope", "title": null});
        assert_eq!(
            fields(TaskChanges::parse(&task)),
            ["title", "estimated_minutes", "module_id"]
        );
        assert_eq!(fields(TaskChanges::parse(&json!([]))), ["body"]);
        let simple = ModuleId::new().as_uuid().simple().to_string();
        let body = json!({ "module_id": simple });
        assert_eq!(fields(TaskChanges::parse(&body)), ["module_id"]);
        let id = ModuleId::new();
        let c = TaskChanges::parse(&json!({"module_id": id.to_string(), "estimated_minutes": 5}));
        assert_eq!(
            c.map(|c| (c.module_id, c.estimated_minutes)),
            Ok((Some(id), Some(5)))
        );
    }

    #[test]
    fn a_new_module_names_each_task_field_at_its_path() {
        let ok = NewModule::parse(&json!({
            "title": "Practice", "estimated_minutes": 60,
            "tasks": [{"title": "Drill", "estimated_minutes": 30, "description": " "}],
        }));
        let ok = ok.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ok.order, ok.tasks.len()), (None, 1));
        assert_eq!(ok.tasks[0].description, None);
        let bad = NewModule::parse(&json!({
            "title": "Practice", "estimated_minutes": 60, "order": 1.5,
            "tasks": [
                {"title": "Drill", "estimated_minutes": 30},
                {"title": "Drill", "estimated_minutes": 4},
                {"title": "", "estimated_minutes": 30, "order": 1},
            ],
        }));
        assert_eq!(
            fields(bad),
            [
                "order",
                "tasks[1].estimated_minutes",
                "tasks[2].order",
                "tasks[2].title"
            ]
        );
        let empty = NewModule::parse(&json!({"title": "P", "estimated_minutes": 60, "tasks": []}));
        assert_eq!(fields(empty), ["tasks"]);
        let task = NewTask::parse(&json!({"title": "Read", "estimated_minutes": 5, "order": 3}));
        assert_eq!(task.map(|t| t.order), Ok(Some(3)));
    }
}
