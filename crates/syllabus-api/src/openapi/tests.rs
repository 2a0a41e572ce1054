//! The document's own checks: every reference resolves and every component is used, the request
//! schemas name the fields their domain types read, and the cursor patterns are the cursors the
//! API writes and reads. (`tests/openapi.rs` ties its bounds and sets to the domain.)

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use syllabus_domain::RawPlanRequest;

use super::json;
use super::requests::CURSOR_ACCEPTED;
use crate::input::{encode_cursor, from_value, page};
use crate::wire::fields::CURSOR_ISSUED;

fn doc() -> Value {
    serde_json::from_str(json()).unwrap_or(Value::Null)
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                out.push(r);
            }
            map.values().for_each(|x| refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_every_component_is_referenced() {
    let d = doc();
    let mut found = Vec::new();
    refs(&d, &mut found);
    for r in &found {
        assert!(
            d.pointer(r.trim_start_matches('#')).is_some(),
            "{r} does not resolve"
        );
    }
    let used: BTreeSet<&str> = found.iter().copied().collect();
    for kind in ["schemas", "responses"] {
        for name in d["components"][kind]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            let r = format!("#/components/{kind}/{name}");
            assert!(used.contains(r.as_str()), "{r} is never referenced");
        }
    }
}

#[test]
fn the_document_is_built_once() {
    assert!(std::ptr::eq(json(), json()));
    assert_eq!(doc()["openapi"], "3.1.0");
}

#[test]
fn plan_create_names_the_fields_of_the_raw_request_and_requires_those_without_default() {
    let d = doc();
    let schema = &d["components"]["schemas"]["PlanCreate"];
    let documented: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let raw = serde_json::to_value(RawPlanRequest::default()).unwrap_or(Value::Null);
    let fields: Vec<&str> = raw
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    // Besides the request's fields, `modules`: an import, which the handler takes out of the
    // body before it reads the request.
    let mut expected = fields.clone();
    expected.push("modules");
    assert_eq!(documented, expected);
    let required: Vec<&Value> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for field in fields {
        let mut body = raw.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove(field);
        }
        let read = from_value::<RawPlanRequest>(body).is_ok();
        assert_eq!(read, !required.contains(&&Value::from(field)), "{field}");
    }
}

#[test]
fn the_cursor_patterns_are_the_cursors_the_api_writes_and_reads() {
    let issued = regex_lite::Regex::new(CURSOR_ISSUED).ok();
    let accepted = regex_lite::Regex::new(CURSOR_ACCEPTED).ok();
    let id = uuid::Uuid::now_v7();
    let cursor = encode_cursor(id);
    assert!(issued.as_ref().is_some_and(|r| r.is_match(&cursor)));
    let upper = format!("c{}", id.simple().to_string().to_ascii_uppercase());
    for sample in [
        String::new(),
        cursor,
        upper,
        format!("c{}", id.hyphenated()),
        id.simple().to_string(),
        "nope".to_owned(),
    ] {
        let query = HashMap::from([("cursor".to_owned(), sample.clone())]);
        assert_eq!(
            accepted.as_ref().is_some_and(|r| r.is_match(&sample)),
            page(&query).is_ok(),
            "{sample:?}"
        );
    }
}

#[test]
fn the_token_lifetime_described_is_the_one_minted() {
    let d = doc();
    let hours = crate::auth::DEV_TOKEN_TTL.as_secs() / 3_600;
    let said = d["components"]["schemas"]["DevToken"]["properties"]["expires_at"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains(&format!("({hours} hours ")), "{said}");
}

#[test]
fn every_post_that_creates_work_takes_an_idempotency_key_and_documents_its_answers() {
    let d = doc();
    let creates = [
        "/api/v1/plans",
        "/api/v1/plans/{id}/regenerate",
        "/api/v1/plans/{id}/fork",
        "/api/v1/plans/{id}/flashcards",
        "/api/v1/flashcards/{id}/distractors",
        "/api/v1/plans/{id}/skill-tree",
        "/api/v1/plans/{id}/modules/{module_id}/regenerate",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}/retry",
        "/api/v1/webhooks",
    ];
    let mut keyed = BTreeSet::new();
    for (path, ops) in d["paths"].as_object().into_iter().flatten() {
        let op = &ops["post"];
        let has = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        if has {
            keyed.insert(path.as_str());
            for status in ["400", "409", "422"] {
                assert!(op["responses"].get(status).is_some(), "{path}: no {status}");
            }
        }
    }
    assert_eq!(keyed, creates.into_iter().collect::<BTreeSet<_>>());
}
