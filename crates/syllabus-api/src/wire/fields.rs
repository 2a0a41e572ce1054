//! Schemas of the fields whose Rust type does not say all that the API promises: the domain's
//! closed sets (from each enum's `ALL`), its bounds (from its constants), JSON Schema's `const`,
//! and bounded, enumerated or object values that may be null, written `oneOf: [value, null]`
//! with the value first (clients and `tests/openapi.rs` point at `oneOf/0`; a plain `Option` of a
//! string or number keeps utoipa's `type: [T, "null"]`). The wire types name these in
//! `#[schema(schema_with = …)]`; the request schemas of [`crate::openapi`] build on them too.

use serde_json::Value;
use syllabus_domain::input::{NOTES_MAX_CHARS, StringEnum, TOPIC_MAX_CHARS, WEEKLY_HOURS_MAX};
use syllabus_domain::jobs::PRIORITY_RANGE;
use syllabus_domain::plan::{Bounds, MAX_MODULES, MODULE_MINUTES, TASK_MINUTES};
use syllabus_domain::{AttemptCap, FailureClass, JobStatus, JobType, PlanStatus, UserId};
use utoipa::PartialSchema;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

/// The name of the schema of a streamed module (a `Module` without ids).
pub(crate) const MODULE_PREVIEW: &str = "ModulePreview";

/// The cursors the API issues ([`crate::input::encode_cursor`]): `c` and 32 lowercase hex
/// digits.
pub(crate) const CURSOR_ISSUED: &str = "^c[0-9a-f]{32}$";

// --- Building blocks ---------------------------------------------------------------------------

/// A string that is one of `E`'s wire names, in the domain's order.
pub(crate) fn names_of<E: StringEnum>() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::ALL.iter().map(|v| v.as_str())))
}

/// An integer within `min..=max` (either end open when `None`).
pub(crate) fn integer(min: Option<i64>, max: Option<i64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(min)
        .maximum(max)
}

/// An integer within the domain's `bounds`.
fn within(bounds: Bounds) -> Object {
    integer(Some(bounds.min.into()), Some(bounds.max.into())).build()
}

/// A schema of no particular type (to narrow with `const`).
pub(crate) fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

/// `schema` admitting exactly `value` (JSON Schema's `const`). utoipa's model has no field for
/// it, so it rides in the schema's extensions, which serialize flattened into the schema.
pub(crate) fn constant(schema: ObjectBuilder, value: impl Into<Value>) -> ObjectBuilder {
    schema.extensions(Some(Extensions::from_iter([("const", value.into())])))
}

/// `{"type": "null"}`.
pub(crate) fn null() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// `schema`, or null: `oneOf: [schema, null]`.
pub(crate) fn or_null(schema: impl Into<RefOr<Schema>>) -> OneOfBuilder {
    OneOfBuilder::new().item(schema).item(null())
}

/// `T`'s own schema, inline, or null.
pub(crate) fn inline_or_null<T: PartialSchema>() -> RefOr<Schema> {
    or_null(T::schema()).into()
}

/// A reference to the component schema `name`.
pub(crate) fn reference(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

// --- Fields of the wire types ------------------------------------------------------------------

/// A plan's topic as stored: at most the domain's [`TOPIC_MAX_CHARS`] (a longer one was cut).
pub(crate) fn plan_topic() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(TOPIC_MAX_CHARS))
        .build()
}

/// A plan's notes as stored, or null: at most the domain's [`NOTES_MAX_CHARS`].
pub(crate) fn plan_notes() -> OneOfBuilder {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(NOTES_MAX_CHARS))
            .build(),
    )
}

/// The cursor of the next page, or null on the last.
pub(crate) fn next_cursor() -> RefOr<Schema> {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(CURSOR_ISSUED)),
    )
    .into()
}

/// One of `E`'s wire names (`schema_with` form).
pub(crate) fn names<E: StringEnum>() -> Object {
    names_of::<E>().build()
}

/// A plan's status.
pub(crate) fn plan_status() -> Object {
    names_of::<PlanStatus>()
        .description(Some("Derived, never stored."))
        .build()
}

/// A job's type.
pub(crate) fn job_type() -> Object {
    names::<JobType>()
}

/// A job's status.
pub(crate) fn job_status() -> Object {
    names::<JobStatus>()
}

/// Why an attempt failed; null when it did not.
pub(crate) fn failure_class_or_null() -> RefOr<Schema> {
    or_null(names::<FailureClass>()).into()
}

/// Study days as a plan or a schedule shows them: distinct day names, Monday first, at least one.
pub(crate) fn study_days() -> utoipa::openapi::schema::Array {
    day_names_array(true).build()
}

/// An array of day names (`"monday"` … `"sunday"`); `distinct` for answers, which never repeat
/// one (a request may).
pub(crate) fn day_names_array(distinct: bool) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(syllabus_domain::StudyDays::NAMES)),
        )
        .min_items(Some(1))
        .max_items(distinct.then_some(7))
        .unique_items(distinct)
}

/// Hours per week: 0 to the domain's most.
pub(crate) fn weekly_hours() -> Object {
    integer(Some(0), Some(WEEKLY_HOURS_MAX)).build()
}

/// The number of attempts a plan may use: always the cap.
pub(crate) fn attempts_cap() -> Object {
    constant(
        ObjectBuilder::new().schema_type(Type::Integer),
        AttemptCap::MAX,
    )
    .build()
}

/// An attempt's number, 1 to the cap.
pub(crate) fn attempt_number() -> Object {
    integer(Some(1), Some(AttemptCap::MAX.into())).build()
}

/// An attempt's number, or null for an attempt that counted toward nothing (a capped one).
pub(crate) fn attempt_number_or_null() -> RefOr<Schema> {
    or_null(attempt_number()).into()
}

/// A module's effort in minutes.
pub(crate) fn module_minutes() -> Object {
    within(MODULE_MINUTES)
}

/// A task's effort in minutes.
pub(crate) fn task_minutes() -> Object {
    within(TASK_MINUTES)
}

/// A job's priority.
pub(crate) fn priority() -> Object {
    integer(Some(*PRIORITY_RANGE.start()), Some(*PRIORITY_RANGE.end())).build()
}

/// A skill's depth in its tree, 1 to the domain's deepest.
pub(crate) fn skill_depth() -> Object {
    integer(
        Some(1),
        Some(syllabus_domain::content::MAX_SKILL_DEPTH.into()),
    )
    .build()
}

/// A card's wrong answers: none, or the domain's number of them.
pub(crate) fn distractors() -> RefOr<Schema> {
    let n = syllabus_domain::content::DISTRACTORS;
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .max_items(Some(n))
        .description(Some(format!("0 or {n} wrong answers")))
        .into()
}

/// The position of a streamed module in the answer.
pub(crate) fn module_index() -> Object {
    integer(
        Some(0),
        Some(i64::try_from(MAX_MODULES - 1).unwrap_or(i64::MAX)),
    )
    .description(Some(
        "0-based position in the answer (the module's order is index + 1).",
    ))
    .build()
}

/// A streamed module: a reference to its schema.
pub(crate) fn module_preview() -> Ref {
    reference(MODULE_PREVIEW)
}

/// A user id as a token's `sub` carries it.
pub(crate) fn user_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(UserId::MAX_LEN))
}

/// The signed-in user of a session, or null.
pub(crate) fn session_user() -> RefOr<Schema> {
    let described = user_id().description(Some(format!(
        "A user id (a token's `sub`): 1 to {} bytes (UTF-8) without control characters.",
        UserId::MAX_LEN
    )));
    or_null(described)
        .description(Some(
            "The token's user; null without an Authorization header.",
        ))
        .into()
}

/// The user a minted token names.
pub(crate) fn minted_user() -> Object {
    user_id()
        .description(Some("The token's `sub` (the trimmed name)."))
        .build()
}

/// The name a development sign-in asks for.
pub(crate) fn sign_in_name() -> Object {
    user_id()
        .description(Some(format!(
            "The user to sign in as; surrounding whitespace is trimmed, then it must be 1 to {} \
             bytes (UTF-8) without control characters (else 400 naming `name`).",
            UserId::MAX_LEN
        )))
        .build()
}
