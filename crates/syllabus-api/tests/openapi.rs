//! The OpenAPI document mirrors the rules the API enforces: every bound, enum and default it
//! states is read here and compared with the constant of the domain (or the API) it stands for,
//! so changing a constant without the document fails this test. The topic and date patterns are
//! checked against the domain's own parser on edge cases.

use serde_json::Value;
use syllabus_api::input::{LIMIT_DEFAULT, LIMIT_MAX, MAX_WAIT};
use syllabus_domain::input::{NOTES_MAX_CHARS, TOPIC_MAX_CHARS, TOPIC_MIN_CHARS, WEEKLY_HOURS_MAX};
use syllabus_domain::jobs::{DEFAULT_CARDS, MAX_CARDS, PRIORITY_RANGE};
use syllabus_domain::plan::{MODULE_MINUTES, TASK_MINUTES};
use syllabus_domain::{
    AttemptCap, FailureClass, JobStatus, JobType, LearningStyle, PlanRequest, PlanStatus,
    RawPlanRequest, SkillLevel,
};

fn doc() -> Value {
    serde_json::from_str(syllabus_api::openapi::json()).unwrap_or(Value::Null)
}

/// `#/a/b/0/c`-style pointer, panicking with the path when absent.
fn at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the document"))
}

fn int(doc: &Value, pointer: &str) -> i64 {
    at(doc, pointer)
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} is not an integer"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<String> {
    all.iter().map(|v| name(*v).to_owned()).collect()
}

fn i(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MIN)
}

/// The operation's parameter `name`'s schema.
fn param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    op["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

#[test]
fn plan_request_bounds_and_enums_are_the_domains() {
    let d = doc();
    let pc = "/components/schemas/PlanCreate/properties";
    assert_eq!(int(&d, &format!("{pc}/weekly_hours/minimum")), 0);
    assert_eq!(
        int(&d, &format!("{pc}/weekly_hours/maximum")),
        WEEKLY_HOURS_MAX
    );
    assert_eq!(
        strings(at(&d, &format!("{pc}/skill_level/enum"))),
        names(SkillLevel::ALL, SkillLevel::as_str)
    );
    assert_eq!(
        strings(at(&d, &format!("{pc}/learning_style/enum"))),
        names(LearningStyle::ALL, LearningStyle::as_str)
    );
    let plan = "/components/schemas/Plan/properties";
    assert_eq!(
        int(&d, &format!("{plan}/weekly_hours/maximum")),
        WEEKLY_HOURS_MAX
    );
    assert_eq!(
        strings(at(&d, &format!("{plan}/skill_level/enum"))),
        names(SkillLevel::ALL, SkillLevel::as_str)
    );
    assert_eq!(
        strings(at(&d, &format!("{plan}/learning_style/enum"))),
        names(LearningStyle::ALL, LearningStyle::as_str)
    );
    assert_eq!(
        strings(at(&d, &format!("{plan}/status/enum"))),
        names(PlanStatus::ALL, PlanStatus::as_str)
    );
    assert_eq!(
        int(&d, &format!("{plan}/attempts_cap/const")),
        i(AttemptCap::MAX)
    );
    assert_eq!(
        int(
            &d,
            "/components/schemas/Attempt/properties/number/oneOf/0/maximum"
        ),
        i(AttemptCap::MAX)
    );
    // The topic pattern's repetition is the room between the first and the last kept character.
    let topic = at(&d, &format!("{pc}/topic/pattern"))
        .as_str()
        .unwrap_or_default();
    let room = format!("{{{},{}}}", TOPIC_MIN_CHARS - 2, TOPIC_MAX_CHARS - 2);
    assert!(topic.contains(&room), "{topic} lacks {room}");
    let described = at(&d, &format!("{pc}/topic/description"))
        .as_str()
        .unwrap_or_default();
    assert!(described.contains(&format!("at least {TOPIC_MIN_CHARS} characters")));
    assert!(described.contains(&format!("cut to {TOPIC_MAX_CHARS}")));
    let notes = at(&d, &format!("{pc}/notes/oneOf/0/description"))
        .as_str()
        .unwrap_or_default();
    assert!(notes.contains(&format!("{NOTES_MAX_CHARS}").replace("000", ",000")));
}

/// The lengths the web app reads from the document (web/bounds.js) instead of copying them: the
/// shortest topic a request may give, and what a longer topic or notes are shortened to (stated
/// on the plan, as the server answers it: the request's topic and notes are never rejected for
/// their length).
#[test]
fn the_text_lengths_the_web_app_reads_are_the_domains() {
    let d = doc();
    assert_eq!(
        int(
            &d,
            "/components/schemas/PlanCreate/properties/topic/minLength"
        ),
        i(TOPIC_MIN_CHARS)
    );
    let plan = "/components/schemas/Plan/properties";
    assert_eq!(
        int(&d, &format!("{plan}/topic/maxLength")),
        i(TOPIC_MAX_CHARS)
    );
    assert_eq!(
        int(&d, &format!("{plan}/notes/oneOf/0/maxLength")),
        i(NOTES_MAX_CHARS)
    );
}

#[test]
fn job_bounds_and_enums_are_the_domains() {
    let d = doc();
    let branches = at(&d, "/components/schemas/JobCreate/oneOf")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let creatable: Vec<String> = branches
        .iter()
        .filter_map(|b| b["properties"]["type"]["const"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        creatable,
        [
            "flashcards",
            "distractors",
            "skill_tree",
            "module_regeneration"
        ]
    );
    // A module regeneration's instruction states the domain's bound (it applies once trimmed).
    let instruction = &branches[3]["properties"]["payload"]["properties"]["instruction"];
    assert!(
        instruction["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&syllabus_domain::regen::INSTRUCTION_MAX_CHARS.to_string()),
        "{instruction}"
    );
    for b in &branches {
        let p = &b["properties"]["priority"]["oneOf"][0];
        assert_eq!(p["minimum"].as_i64(), Some(*PRIORITY_RANGE.start()));
        assert_eq!(p["maximum"].as_i64(), Some(*PRIORITY_RANGE.end()));
    }
    let cards = [
        &branches[0]["properties"]["payload"]["properties"]["max_cards"],
        &d["paths"]["/api/v1/plans/{id}/flashcards"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["properties"]["max_cards"],
    ];
    for c in cards {
        assert_eq!(c["oneOf"][0]["minimum"].as_i64(), Some(1));
        assert_eq!(c["oneOf"][0]["maximum"].as_i64(), Some(i(MAX_CARDS)));
        assert_eq!(c["default"].as_i64(), Some(i(DEFAULT_CARDS)));
    }
    let job = "/components/schemas/Job/properties";
    assert_eq!(
        strings(at(&d, &format!("{job}/type/enum"))),
        names(JobType::ALL, JobType::as_str)
    );
    assert_eq!(
        strings(at(&d, &format!("{job}/status/enum"))),
        names(JobStatus::ALL, JobStatus::as_str)
    );
    assert_eq!(
        int(&d, &format!("{job}/priority/minimum")),
        *PRIORITY_RANGE.start()
    );
    assert_eq!(
        int(&d, &format!("{job}/priority/maximum")),
        *PRIORITY_RANGE.end()
    );
    let mut classes = names(FailureClass::ALL, FailureClass::as_str);
    classes.sort();
    for pointer in [
        format!("{job}/error/oneOf/0/properties/classification/enum"),
        "/components/schemas/Attempt/properties/classification/oneOf/0/enum".to_owned(),
    ] {
        let mut documented = strings(at(&d, &pointer));
        documented.sort();
        assert_eq!(documented, classes, "{pointer}");
    }
    let list = "/api/v1/jobs";
    assert_eq!(
        strings(&param(&d, list, "get", "type")["enum"]),
        names(JobType::ALL, JobType::as_str)
    );
    assert_eq!(
        strings(&param(&d, list, "get", "status")["enum"]),
        names(JobStatus::ALL, JobStatus::as_str)
    );
    assert_eq!(
        strings(&param(&d, "/api/v1/plans", "get", "status")["enum"]),
        names(PlanStatus::ALL, PlanStatus::as_str)
    );
}

#[test]
fn content_bounds_paging_and_waits_are_the_apis() {
    let d = doc();
    for (schema, bounds) in [("Module", MODULE_MINUTES), ("Task", TASK_MINUTES)] {
        let p = format!("/components/schemas/{schema}/properties/estimated_minutes");
        assert_eq!(int(&d, &format!("{p}/minimum")), i(bounds.min));
        assert_eq!(int(&d, &format!("{p}/maximum")), i(bounds.max));
    }
    for path in ["/api/v1/plans", "/api/v1/jobs"] {
        let limit = param(&d, path, "get", "limit");
        assert_eq!(limit["minimum"].as_i64(), Some(1));
        assert_eq!(limit["maximum"].as_i64(), Some(i(LIMIT_MAX)));
        assert_eq!(limit["default"].as_i64(), Some(i(LIMIT_DEFAULT)));
    }
    let wait = format!("N ≤ {}", MAX_WAIT.as_secs());
    for path in ["/api/v1/plans/{id}", "/api/v1/jobs/{id}"] {
        let described = d["paths"][path]["get"]["parameters"][1]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(described.contains(&wait), "{path}: {described}");
    }
}

/// ECMA-262 `\uXXXX` as regex-lite's `\x{XXXX}`, anchored as the document's patterns are.
fn regex(pattern: &str) -> regex_lite::Regex {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        out.push_str(&format!("\\x{{{}}}", &rest[at + 2..at + 6]));
        rest = &rest[at + 6..];
    }
    out.push_str(rest);
    regex_lite::Regex::new(&out).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

#[test]
fn the_topic_pattern_admits_exactly_the_topics_the_domain_keeps() {
    let d = doc();
    let pc = "/components/schemas/PlanCreate/properties";
    let topic = regex(
        at(&d, &format!("{pc}/topic/pattern"))
            .as_str()
            .unwrap_or_default(),
    );
    let ws: String = (0..=0x10_FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .collect();
    let parse = |t: &str| {
        PlanRequest::parse(&RawPlanRequest {
            topic: t.to_owned(),
            skill_level: "beginner".into(),
            weekly_hours: 1,
            learning_style: "mixed".into(),
            ..RawPlanRequest::default()
        })
        .is_ok()
    };
    let mut samples: Vec<String> = [
        "",
        "ab",
        "abc",
        " ab ",
        " abc ",
        "a b",
        "a  ",
        "\u{1c}ab\u{1c}",
        "a\u{0}c",
        "éé",
        "ééé",
        "日本語",
        "a\u{3000}b",
        "\u{200b}ab",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for c in ws.chars() {
        samples.push(format!("{c}ab{c}"));
        samples.push(format!("a{c}b"));
        samples.push(format!("{c}{c}{c}"));
    }
    let n = TOPIC_MAX_CHARS;
    samples.push(format!("ab{}xyz", " ".repeat(n - 2)));
    samples.push(format!("ab{}xyz", " ".repeat(n - 3)));
    samples.push(format!("a{}b", " ".repeat(n - 2)));
    samples.push(format!("a{}b", " ".repeat(n - 1)));
    samples.push("x".repeat(n * 3));
    for s in &samples {
        assert_eq!(topic.is_match(s), parse(s), "topic {s:?}");
    }
    // The blank-date pattern's class is the domain's whitespace.
    let blank = regex(
        at(&d, &format!("{pc}/start_date/anyOf/1/pattern"))
            .as_str()
            .unwrap_or_default(),
    );
    for c in (0..=0x3100_u32).filter_map(char::from_u32) {
        assert_eq!(blank.is_match(&c.to_string()), c.is_whitespace(), "{c:?}");
    }
}

#[test]
fn the_bodies_of_hand_edits_are_the_domains() {
    use syllabus_domain::edits::{
        MODULE_CHANGE_FIELDS, NEW_MODULE_FIELDS, NEW_TASK_FIELDS, TASK_CHANGE_FIELDS,
    };
    use syllabus_domain::plan::{MAX_TASKS, MIN_TASKS, TITLE_MAX_CHARS};
    let d = doc();
    let s = "/components/schemas";
    for (name, fields) in [
        ("ModuleChanges", &MODULE_CHANGE_FIELDS[..]),
        ("TaskChanges", &TASK_CHANGE_FIELDS[..]),
        ("ModuleCreate", &NEW_MODULE_FIELDS[..]),
        ("TaskCreate", &NEW_TASK_FIELDS[..]),
    ] {
        let props: Vec<&str> = at(&d, &format!("{s}/{name}/properties"))
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(props, fields, "{name}");
        assert_eq!(
            at(&d, &format!("{s}/{name}/additionalProperties")),
            &Value::Bool(false)
        );
        let title = format!("{s}/{name}/properties/title/maxLength");
        assert_eq!(int(&d, &title), i(TITLE_MAX_CHARS));
    }
    for (name, bounds) in [
        ("ModuleChanges", MODULE_MINUTES),
        ("ModuleCreate", MODULE_MINUTES),
        ("TaskChanges", TASK_MINUTES),
        ("TaskCreate", TASK_MINUTES),
    ] {
        let m = format!("{s}/{name}/properties/estimated_minutes");
        assert_eq!(int(&d, &format!("{m}/minimum")), i(bounds.min), "{name}");
        assert_eq!(int(&d, &format!("{m}/maximum")), i(bounds.max), "{name}");
    }
    let tasks = format!("{s}/ModuleCreate/properties/tasks");
    assert_eq!(int(&d, &format!("{tasks}/minItems")), i(MIN_TASKS));
    assert_eq!(int(&d, &format!("{tasks}/maxItems")), i(MAX_TASKS));
    let task_minutes = format!("{tasks}/items/properties/estimated_minutes");
    assert_eq!(
        int(&d, &format!("{task_minutes}/maximum")),
        i(TASK_MINUTES.max)
    );
}
