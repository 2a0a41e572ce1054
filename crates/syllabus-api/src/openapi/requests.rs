//! What requests carry: the bodies the handlers read as JSON and parse with the domain
//! ([`syllabus_domain::RawPlanRequest`], [`syllabus_domain::JobPayload`]), and the path, query and
//! header parameters. The domain's types stay free of schema code, so these schemas are built
//! here, every bound, set and pattern from the domain's (or the API's) constants.

use serde_json::json;
use syllabus_domain::input::{NOTES_MAX_CHARS, TOPIC_MAX_CHARS, TOPIC_MIN_CHARS};
use syllabus_domain::jobs::{DEFAULT_CARDS, MAX_CARDS};
use syllabus_domain::{JobType, LearningStyle, SkillLevel, Visibility};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr, Required};

use crate::input::{LIMIT_DEFAULT, LIMIT_MAX, MAX_WAIT};
use crate::wire::fields::{
    any, constant, day_names_array, integer, names, names_of, null, or_null, priority,
};

/// The name of [`plan_create`]'s schema.
pub(crate) const PLAN_CREATE: &str = "PlanCreate";
/// The name of [`plan_changes`]'s schema.
pub(crate) const PLAN_CHANGES: &str = "PlanChanges";
/// The name of [`job_create`]'s schema.
pub(crate) const JOB_CREATE: &str = "JobCreate";

/// The cursors a list accepts: none (empty) or one it issued, in either case of hex digits.
pub(crate) const CURSOR_ACCEPTED: &str = "^(c[0-9a-fA-F]{32})?$";

/// What `POST /api/v1/plans` takes: the fields of [`syllabus_domain::RawPlanRequest`], with the
/// rules [`syllabus_domain::PlanRequest::parse`] applies.
pub(crate) fn plan_create() -> Schema {
    let date = || {
        AnyOfBuilder::new()
            .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .item(
                string()
                    .pattern(Some(format!("^{}*$", whitespace_class(false))))
                    .description(Some("Blank: absent.")),
            )
            .item(null())
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "topic",
            string()
                .min_length(Some(TOPIC_MIN_CHARS))
                .pattern(Some(topic_pattern()))
                .description(Some(format!(
                    "Trimmed; at least {TOPIC_MIN_CHARS} characters once trimmed and cut to \
                 {TOPIC_MAX_CHARS} (longer topics are truncated, never rejected); no NUL."
                ))),
        )
        .required("topic")
        .property(
            "notes",
            or_null(
                string()
                    .pattern(Some("^[^\\u0000]*$"))
                    .description(Some(format!(
                        "Trimmed; blank is absent; longer than {} characters is truncated; no \
                         NUL.",
                        grouped(NOTES_MAX_CHARS)
                    ))),
            ),
        )
        .property("skill_level", names::<SkillLevel>())
        .required("skill_level")
        .property("weekly_hours", crate::wire::fields::weekly_hours())
        .required("weekly_hours")
        .property("learning_style", names::<LearningStyle>())
        .required("learning_style")
        .property("start_date", date())
        .property(
            "deadline_date",
            date().description(Some("Not before start_date.")),
        )
        .property(
            "study_days",
            or_null(day_names_array(false).description(Some(
                "The days sessions fall on; repeats are ignored. Null or absent: every day.",
            ))),
        )
        .property("modules", imported_modules())
        .into()
}

/// The `modules` of an import: a client's own curriculum, checked by the rules of a generated
/// plan ([`syllabus_domain::validate_plan`]), with efforts that must already be whole minutes
/// within bounds (an import is refused, never clamped).
fn imported_modules() -> ArrayBuilder {
    use syllabus_domain::plan::{
        DESCRIPTION_MAX_CHARS, MAX_MODULES, MAX_TASKS, MIN_MODULES, MIN_TASKS, MODULE_MINUTES,
        TASK_MINUTES, TITLE_MAX_CHARS,
    };
    let text = |max: usize| {
        string()
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some("^[^\\u0000]*$"))
    };
    let item = |minutes: syllabus_domain::plan::Bounds| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "title",
                text(TITLE_MAX_CHARS)
                    .description(Some("Trimmed; with at least one letter or digit.")),
            )
            .required("title")
            .property(
                "description",
                or_null(
                    string()
                        .max_length(Some(DESCRIPTION_MAX_CHARS))
                        .pattern(Some("^[^\\u0000]*$"))
                        .description(Some("Trimmed; blank is none.")),
                ),
            )
            .property(
                "estimated_minutes",
                integer(Some(minutes.min.into()), Some(minutes.max.into())),
            )
            .required("estimated_minutes")
    };
    ArrayBuilder::new()
        .items(
            item(MODULE_MINUTES)
                .property(
                    "tasks",
                    ArrayBuilder::new()
                        .items(item(TASK_MINUTES))
                        .min_items(Some(MIN_TASKS))
                        .max_items(Some(MAX_TASKS)),
                )
                .required("tasks"),
        )
        .min_items(Some(MIN_MODULES))
        .max_items(Some(MAX_MODULES))
        .description(Some(
            "Your own modules and tasks, in order (an import): the plan is created ready, with \
             origin manual and no generation job, checked by the rules of a generated plan; an \
             effort out of bounds is refused, not clamped. Absent: the plan is generated.",
        ))
}

/// What `PATCH /api/v1/plans/{id}` takes: [`syllabus_domain::RawPlanChanges`], a JSON merge
/// patch (a field left out is kept, null clears it) checked by
/// [`syllabus_domain::PlanChanges::parse`]. Any other field is refused by name.
pub(crate) fn plan_changes() -> Schema {
    let date = |what: &str| {
        or_null(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .description(Some(format!("{what}; null clears it.")))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("weekly_hours", crate::wire::fields::weekly_hours())
        .property(
            "study_days",
            or_null(day_names_array(false)).description(Some(
                "The days sessions fall on; repeats are ignored; null is every day.",
            )),
        )
        .property("start_date", date("The first day of study"))
        .property(
            "deadline_date",
            date("The day to finish by, not before start_date (given or kept)"),
        )
        .property(
            "notes",
            or_null(
                string()
                    .pattern(Some("^[^\\u0000]*$"))
                    .description(Some(format!(
                        "Trimmed; blank or null clears them; longer than {} characters is \
                         truncated; no NUL. Used by the next generation.",
                        grouped(NOTES_MAX_CHARS)
                    ))),
            ),
        )
        .property(
            "visibility",
            names_of::<Visibility>().description(Some(
                "public: anyone may read the plan's content at /api/v1/public/plans/{id}.",
            )),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// The body of `POST /api/v1/plans/{id}/flashcards`: a flashcards payload whose plan is the
/// path's.
pub(crate) fn flashcards_create() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "module_id",
            or_null(uuid()).description(Some(
                "Only this module of the plan; null or absent for the whole plan.",
            )),
        )
        .property(
            "max_cards",
            max_cards().description(Some("Null or absent is the default.")),
        )
        .description(Some("The plan is the path's; a plan_id here is ignored."))
        .into()
}

/// What `POST /api/v1/jobs` takes: one branch per job type a client may queue (plan generation
/// is queued through `/plans`), each with its payload as [`syllabus_domain::JobPayload::parse`]
/// reads it.
pub(crate) fn job_create() -> Schema {
    let branches = JobType::ALL.iter().filter_map(|&t| {
        let payload = match t {
            // Plan generation is queued through `/plans`; deliveries by the runtime only.
            JobType::PlanGeneration | JobType::WebhookDelivery => return None,
            JobType::Flashcards => ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("plan_id", uuid())
                .required("plan_id")
                .property("module_id", or_null(uuid()))
                .property("max_cards", max_cards()),
            JobType::Distractors => ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("flashcard_id", uuid())
                .required("flashcard_id"),
            JobType::SkillTree => ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("plan_id", uuid())
                .required("plan_id"),
            JobType::ModuleRegeneration => ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("plan_id", uuid())
                .required("plan_id")
                .property("module_id", uuid())
                .required("module_id")
                .property("instruction", instruction()),
        };
        Some(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("type", constant(any(), t.as_str()))
                .required("type")
                .property("payload", payload)
                .required("payload")
                .property(
                    "priority",
                    or_null(priority())
                        .default(Some(json!(0)))
                        .description(Some("Higher runs first; null or absent is 0.")),
                ),
        )
    });
    branches
        .fold(
            utoipa::openapi::schema::OneOfBuilder::new(),
            utoipa::openapi::schema::OneOfBuilder::item,
        )
        .into()
}

/// A flashcards job's card count: 1 to the domain's most, null or absent for its default.
fn max_cards() -> utoipa::openapi::schema::OneOfBuilder {
    or_null(integer(Some(1), Some(MAX_CARDS.into()))).default(Some(json!(DEFAULT_CARDS)))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

/// `n` with a comma between thousands (`2,000`).
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// An ECMA-262 character class of what the domain trims ([`char::is_whitespace`], which
/// [`str::trim`] uses), NUL added when `negated`: `[…]` or `[^\u0000…]`. Runs of three or more
/// characters above ASCII are written as ranges.
pub(crate) fn whitespace_class(negated: bool) -> String {
    let escape = |c: char| match c {
        '\t' => "\\t".to_owned(),
        '\n' => "\\n".to_owned(),
        '\x0c' => "\\f".to_owned(),
        '\r' => "\\r".to_owned(),
        ' ' => " ".to_owned(),
        c => format!("\\u{:04x}", u32::from(c)),
    };
    let ws: Vec<char> = (0..=0x10_FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .collect();
    let mut class = String::from(if negated { "[^\\u0000" } else { "[" });
    let mut i = 0;
    while i < ws.len() {
        let mut j = i;
        while j + 1 < ws.len() && u32::from(ws[j + 1]) == u32::from(ws[j]) + 1 {
            j += 1;
        }
        if j - i >= 2 && !ws[i].is_ascii() {
            class.push_str(&format!("{}-{}", escape(ws[i]), escape(ws[j])));
        } else {
            ws[i..=j].iter().for_each(|&c| class.push_str(&escape(c)));
        }
        i = j + 1;
    }
    class.push(']');
    class
}

/// A topic the domain keeps: after leading whitespace, a kept character, then between
/// `TOPIC_MIN_CHARS - 2` and `TOPIC_MAX_CHARS - 2` characters, then a kept character within the
/// first `TOPIC_MAX_CHARS` (so the cut, trimmed, is long enough), then anything; never NUL.
fn topic_pattern() -> String {
    let ws = whitespace_class(false);
    let kept = whitespace_class(true);
    format!(
        "^{ws}*{kept}[^\\u0000]{{{},{}}}{kept}[^\\u0000]*$",
        TOPIC_MIN_CHARS - 2,
        TOPIC_MAX_CHARS - 2
    )
}

// --- Parameters --------------------------------------------------------------------------------

/// A module regeneration's instruction (issue #21): its bound is said, not declared, since it
/// applies once the text is trimmed; no NUL.
pub(crate) fn instruction() -> utoipa::openapi::schema::OneOfBuilder {
    or_null(string().pattern(Some("^[^\\u0000]*$"))).description(Some(format!(
        "What the learner wants of the new module, e.g. \"more hands-on\". Trimmed; blank or \
         null is none; more than {} characters once trimmed is refused (400 naming \
         `instruction`), never cut; no NUL.",
        syllabus_domain::regen::INSTRUCTION_MAX_CHARS
    )))
}

/// The `module_id` path parameter (issue #21).
pub(crate) fn module_id() -> Parameter {
    ParameterBuilder::new()
        .name("module_id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(uuid()))
        .build()
}

/// The `{id}` of a path: a UUID.
pub(crate) fn id() -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(uuid()))
        .build()
}

fn query(name: &str, schema: impl Into<RefOr<Schema>>) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .schema(Some(schema))
}

/// `?from=` or `?to=` of the usage report: an ISO date (UTC day, included).
pub(crate) fn usage_day(name: &str, description: &str) -> Parameter {
    query(
        name,
        string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
    )
    .description(Some(description))
    .build()
}

/// `?progress=true|false` on a plan's event stream.
pub(crate) fn follow_progress() -> Parameter {
    query(
        "progress",
        names_of_strs(&["true", "false"]).default(Some(json!("false"))),
    )
    .description(Some(
        "`true`: stay open after the final status and send `progress` events.",
    ))
    .build()
}

fn names_of_strs(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

/// `?tz=`: the learner's IANA time zone, which decides what "today" is: one of the names of the
/// time-zone database the API parses with (`chrono_tz::TZ_VARIANTS`), so a client can check it.
pub(crate) fn time_zone() -> Parameter {
    let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    query(
        "tz",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .default(Some(json!("UTC"))),
    )
    .description(Some(
        "The learner's IANA time zone (`Europe/Paris`); the schedule starts on their date \
             today there. An unknown name is a 400 naming `tz`.",
    ))
    .build()
}

/// `?limit=&cursor=`.
pub(crate) fn paging() -> [Parameter; 2] {
    [
        query(
            "limit",
            integer(Some(1), Some(LIMIT_MAX.into())).default(Some(json!(LIMIT_DEFAULT))),
        )
        .build(),
        query("cursor", string().pattern(Some(CURSOR_ACCEPTED)))
            .description(Some(
                "`next_cursor` of the previous page (opaque); empty is the first page.",
            ))
            .build(),
    ]
}

/// `?name=` filtering on one of `E`'s values.
pub(crate) fn filter<E: syllabus_domain::input::StringEnum>(name: &str) -> Parameter {
    query(name, names_of::<E>()).build()
}

fn header(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(string()))
        .description(Some(description))
        .build()
}

/// `Idempotency-Key` of a create (issue #23).
pub(crate) fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name(crate::idempotency::HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[\\x21-\\x7E]+$")),
        ))
        .description(Some(
            "1–255 visible ASCII characters, unique per user: the first answer (status, \
             `Location`, body) is stored with the SHA-256 of the body and replayed, with \
             `Idempotent-Replayed: true`, for the same key, method, path and body while the key \
             is kept (IDEMPOTENCY_KEY_TTL_HOURS, 24 h); a replay creates nothing and is not \
             counted toward the rate limit. Without the header, no idempotency. A malformed key \
             is 400 IDEMPOTENCY_KEY_INVALID.",
        ))
        .build()
}

/// `Prefer: wait=N`.
pub(crate) fn prefer_wait() -> Parameter {
    header(
        "Prefer",
        &format!(
            "`wait=N` (N ≤ {}): hold the request until the status changes or N seconds pass. \
             Answered with `Preference-Applied`.",
            MAX_WAIT.as_secs()
        ),
    )
}

/// `Last-Event-ID` of an event stream, with what the stream makes of it.
pub(crate) fn last_event_id(description: &str) -> Parameter {
    header("Last-Event-ID", description)
}
