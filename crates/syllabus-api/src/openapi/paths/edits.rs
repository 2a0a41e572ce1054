//! The operations of a plan edited by hand (issue #21 item 2) and their request schemas, every
//! bound from the domain's constants (`syllabus_domain::plan`, `syllabus_domain::edits`).

use utoipa::openapi::RefOr;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, Type};

use syllabus_domain::edits::{
    MODULE_CHANGE_FIELDS, NEW_MODULE_FIELDS, NEW_TASK_FIELDS, TASK_CHANGE_FIELDS,
};
use syllabus_domain::plan::{
    Bounds, DESCRIPTION_MAX_CHARS, MAX_MODULES, MAX_TASKS, MIN_TASKS, MODULE_MINUTES, TASK_MINUTES,
    TITLE_MAX_CHARS,
};

use super::super::requests::id;
use super::super::responses::problem;
use super::Shared::{NotFound, RateLimited};
use super::{BODY, Op, STORE, json, of};
use crate::wire::fields::{integer, or_null, reference};
use crate::wire::{ModuleView, TaskView};

/// The name of the body of `PATCH /modules/{id}`.
pub(in crate::openapi) const MODULE_CHANGES: &str = "ModuleChanges";
/// The name of the body of `PATCH /tasks/{id}`.
pub(in crate::openapi) const TASK_CHANGES: &str = "TaskChanges";
/// The name of the body of `POST /plans/{id}/modules`.
pub(in crate::openapi) const MODULE_CREATE: &str = "ModuleCreate";
/// The name of the body of `POST /modules/{id}/tasks`.
pub(in crate::openapi) const TASK_CREATE: &str = "TaskCreate";

fn title() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(TITLE_MAX_CHARS))
        .pattern(Some("^[^\\u0000]*$"))
        .description(Some("Trimmed; with at least one letter or digit."))
}

fn description() -> utoipa::openapi::schema::OneOfBuilder {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(DESCRIPTION_MAX_CHARS))
            .pattern(Some("^[^\\u0000]*$"))
            .description(Some("Trimmed; blank or null clears it.")),
    )
}

fn minutes(bounds: Bounds) -> ObjectBuilder {
    integer(Some(bounds.min.into()), Some(bounds.max.into())).description(Some(
        "Whole minutes within the bounds: refused, never clamped, when outside.",
    ))
}

fn order(scope: &str) -> ObjectBuilder {
    integer(Some(1), None).description(Some(format!(
        "The position {scope}: 1..N for a move, 1..N+1 for an addition (absent: last); \
         the others shift so that order stays 1..N. Outside the range: 400 naming order."
    )))
}

/// An object taking exactly `fields` (in the domain's list), each with its schema.
fn object(fields: &[&str], schema: impl Fn(&str) -> RefOr<Schema>) -> ObjectBuilder {
    fields
        .iter()
        .fold(ObjectBuilder::new().schema_type(Type::Object), |o, f| {
            o.property(*f, schema(f))
        })
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// The request schemas, by name.
pub(in crate::openapi) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let module_field = |f: &str| -> RefOr<Schema> {
        match f {
            "title" => title().into(),
            "description" => description().into(),
            "estimated_minutes" => minutes(MODULE_MINUTES).into(),
            "tasks" => ArrayBuilder::new()
                .items(
                    object(
                        &["title", "description", "estimated_minutes"],
                        |f| match f {
                            "title" => title().into(),
                            "description" => description().into(),
                            _ => minutes(TASK_MINUTES).into(),
                        },
                    )
                    .required("title")
                    .required("estimated_minutes"),
                )
                .min_items(Some(MIN_TASKS))
                .max_items(Some(MAX_TASKS))
                .into(),
            _ => order("among the plan's modules").into(),
        }
    };
    let task_field = |f: &str| -> RefOr<Schema> {
        match f {
            "title" => title().into(),
            "description" => description().into(),
            "estimated_minutes" => minutes(TASK_MINUTES).into(),
            "module_id" => ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Uuid,
                )))
                .description(Some(
                    "Another module of the same plan: the task moves there (at order, or \
                     last); both modules renumber. A module of another plan: 400.",
                ))
                .into(),
            _ => order("within its module (or within module_id's)").into(),
        }
    };
    let patch = "A JSON merge patch (RFC 7396): a field left out is kept; only description may \
                 be null (it clears it).";
    vec![
        (
            MODULE_CHANGES.to_owned(),
            object(&MODULE_CHANGE_FIELDS, module_field)
                .description(Some(patch))
                .into(),
        ),
        (
            TASK_CHANGES.to_owned(),
            object(&TASK_CHANGE_FIELDS, task_field)
                .description(Some(patch))
                .into(),
        ),
        (
            MODULE_CREATE.to_owned(),
            object(&NEW_MODULE_FIELDS, module_field)
                .required("title")
                .required("estimated_minutes")
                .required("tasks")
                .into(),
        ),
        (
            TASK_CREATE.to_owned(),
            object(&NEW_TASK_FIELDS, task_field)
                .required("title")
                .required("estimated_minutes")
                .into(),
        ),
    ]
}

/// The 409 of an edit, with its own reasons besides the shared ones.
fn conflict(more: &str) -> Response {
    problem(&format!(
        "INVALID_STATE: the plan has no modules yet, a generation of it is queued or running, \
         or a regeneration of a module the edit touches is{more}"
    ))
}

/// Adds the operations through `add`.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Delete, Patch, Post};
    let bounds = format!(
        "Checked against the domain's bounds and refused (400 naming the field), never clamped; \
         not by the rules against a model's degenerate answers. The plan's origin does not \
         change. One transaction under the plan's row lock; the plan's updated_at moves. A plan \
         has 1 to {MAX_MODULES} modules, a module 1 to {MAX_TASKS} tasks."
    );
    add(
        "/api/v1/modules/{id}",
        Patch,
        Op::new(
            "updateModule",
            "Change a module's title, description, minutes or order",
        )
        .description(&bounds)
        .params([id()])
        .body(reference(MODULE_CHANGES))
        .answer(
            200,
            json("The module, with its tasks", of::<ModuleView>()).build(),
        )
        .answer(409, conflict(""))
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/modules/{id}",
        Delete,
        Op::new(
            "deleteModule",
            "Delete a module, its tasks and their progress",
        )
        .description(
            "The plan's other modules renumber 1..N. The module's flashcards stay in the \
                 plan's deck, tied to no module.",
        )
        .params([id()])
        .answer(204, Response::new("Deleted"))
        .answer(409, conflict(", or this is the plan's only module"))
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/modules",
        Post,
        Op::new("addModule", "Add a module with its tasks to a plan")
            .description(&bounds)
            .params([id()])
            .body(reference(MODULE_CREATE))
            .answer(
                201,
                json("The new module, with its tasks", of::<ModuleView>()).build(),
            )
            .answer(
                409,
                conflict(&format!(", or the plan has {MAX_MODULES} modules")),
            )
            .errors(&BODY)
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/tasks/{id}",
        Patch,
        Op::new(
            "updateTask",
            "Change a task's title, description, minutes or order, or move it to another module",
        )
        .description(&bounds)
        .params([id()])
        .body(reference(TASK_CHANGES))
        .answer(200, json("The task", of::<TaskView>()).build())
        .answer(
            409,
            conflict(&format!(
                ", or the task would leave its module empty, or the other module has \
                 {MAX_TASKS} tasks"
            )),
        )
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/tasks/{id}",
        Delete,
        Op::new("deleteTask", "Delete a task and its progress")
            .description("The module's other tasks renumber 1..N.")
            .params([id()])
            .answer(204, Response::new("Deleted"))
            .answer(409, conflict(", or this is its module's only task"))
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/modules/{id}/tasks",
        Post,
        Op::new("addTask", "Add a task to a module")
            .description(&bounds)
            .params([id()])
            .body(reference(TASK_CREATE))
            .answer(201, json("The new task", of::<TaskView>()).build())
            .answer(
                409,
                conflict(&format!(", or the module has {MAX_TASKS} tasks")),
            )
            .errors(&BODY)
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
}
