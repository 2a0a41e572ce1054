//! The OpenAPI 3.1 document of the API, generated (utoipa) from the types the handlers answer
//! with (`crate::wire`, [`crate::problem`]), the request schemas built from the domain's rules
//! (`requests`) and the list of operations (`paths`). It is built once, on first use, and
//! served as the same bytes every time (`GET /api/v1/openapi.json`).
//!
//! `cargo run -p syllabus-api --example openapi` writes it to standard output.

mod paths;
mod requests;
mod responses;
mod texts;

use std::sync::OnceLock;

use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Components, InfoBuilder, OpenApi, OpenApiBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::problem::Body as Problem;
use crate::wire::fields::{MODULE_PREVIEW, reference};
use crate::wire::{
    DevSignInRequest, FlashcardView, JobView, MintedView, ModuleDraftEventView, ModuleEventView,
    ModuleRegenerateRequest, ModuleView, PlanView, ProgressView, PublicPlanView, RegenerateRequest,
    ScheduleView, SessionView, SkillEventView, SkillPreviewNodeView, SkillTreeView,
    TaskProgressRequest, TaskView, UsageReportView,
};

/// The name of a streamed module's task's schema (a `Task` without id).
const TASK_PREVIEW: &str = "TaskPreview";

/// The document as served: pretty-printed JSON, built once.
#[must_use]
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default())
}

/// The document.
#[must_use]
pub fn document() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Syllabus API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(texts::API)),
        )
        .servers(Some([Server::new("/")]))
        .security(Some([responses::bearer()]))
        .paths(paths::paths())
        .components(Some(components()))
        .build()
}

/// Every named schema, the shared answers and the bearer scheme.
fn components() -> Components {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    register::<Problem<'static>>(&mut schemas);
    register::<PlanView>(&mut schemas);
    register::<JobView>(&mut schemas);
    register::<FlashcardView>(&mut schemas);
    register::<SkillTreeView>(&mut schemas);
    register::<ModuleEventView<'static>>(&mut schemas);
    register::<SessionView<'static>>(&mut schemas);
    register::<DevSignInRequest>(&mut schemas);
    register::<ProgressView>(&mut schemas);
    register::<ScheduleView>(&mut schemas);
    register::<PublicPlanView>(&mut schemas);
    register::<TaskProgressRequest>(&mut schemas);
    register::<RegenerateRequest>(&mut schemas);
    register::<ModuleRegenerateRequest>(&mut schemas);
    register::<ModuleDraftEventView>(&mut schemas);
    register::<SkillEventView>(&mut schemas);
    register::<SkillPreviewNodeView>(&mut schemas);
    register::<MintedView<'static>>(&mut schemas);
    register::<UsageReportView>(&mut schemas);
    schemas.push((
        requests::PLAN_CREATE.to_owned(),
        requests::plan_create().into(),
    ));
    schemas.push((
        requests::PLAN_CHANGES.to_owned(),
        requests::plan_changes().into(),
    ));
    // The bodies of a plan's hand edits (issue #21 item 2).
    schemas.extend(paths::edits::schemas());
    // Spaced review (issue #24).
    schemas.extend(paths::study::schemas());
    // Signed webhooks (issue #23): the bodies and the answers.
    schemas.extend(paths::webhooks::schemas());
    paths::webhooks::register(&mut schemas);
    schemas.push((
        requests::JOB_CREATE.to_owned(),
        requests::job_create().into(),
    ));
    schemas.push((
        TASK_PREVIEW.to_owned(),
        without_ids(
            TaskView::schema(),
            "A task of a streamed module: a Task without id and progress.",
            None,
        ),
    ));
    schemas.push((
        MODULE_PREVIEW.to_owned(),
        without_ids(
            ModuleView::schema(),
            "A streamed module: a Module without ids and progress (nothing is stored until its \
             attempt succeeds).",
            Some(TASK_PREVIEW),
        ),
    ));
    let mut components = Components::new();
    components.schemas.extend(schemas);
    for shared in responses::Shared::ALL {
        components
            .responses
            .insert(shared.name().to_owned(), shared.response().into());
    }
    components.security_schemes.insert(
        "bearer".to_owned(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        )
        .into(),
    );
    components
}

/// What a stored shape has that a streamed one has not: its id and the learner's progress.
const STORED_ONLY: [&str; 5] = [
    "id",
    "status",
    "completed_at",
    "completed_tasks",
    "total_tasks",
];

/// A stored shape without its `id` and progress, as streamed before anything is stored; its
/// `tasks`, when `tasks` names their schema, without theirs.
fn without_ids(schema: RefOr<Schema>, description: &str, tasks: Option<&str>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    for field in STORED_ONLY {
        object.properties.shift_remove(field);
    }
    object
        .required
        .retain(|field| !STORED_ONLY.contains(&field.as_str()));
    object.description = Some(description.to_owned());
    if let (Some(name), Some(items)) = (tasks, object.properties.get_mut("tasks")) {
        *items = ArrayBuilder::new().items(reference(name)).into();
    }
    RefOr::T(Schema::Object(object))
}

/// `T`'s schema under its name, and the named schemas it refers to.
fn register<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

#[cfg(test)]
mod tests;
