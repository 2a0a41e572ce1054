//! Every answer of the in-process API checked against the OpenAPI document it serves: the status
//! is documented for the path and method, the content type is the documented one, documented
//! required headers are present, and the body validates against the response schema.
//!
//! The schema check covers the keywords the document uses: `$ref`, `type`, `const`, `enum`,
//! `properties`, `required`, `additionalProperties`, `items`, `oneOf`, `anyOf`, `allOf`,
//! `minimum`, `maximum`, `minLength`, `maxLength`, `minItems`, `maxItems` and the `uuid`, `date`
//! and `date-time` formats (`pattern` is checked only on requests, by schemathesis).

use reqwest::header::HeaderMap;
use serde_json::Value;

/// The served document.
#[must_use]
pub fn document() -> Value {
    serde_json::from_str(syllabus_api::openapi::json()).unwrap_or(Value::Null)
}

fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null);
    }
    v
}

fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let segs: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
}

/// Checks the data of one server-sent event of the stream at `path` against the schema the
/// document gives its event name: the `oneOf` branch of the `text/event-stream` schema whose
/// `event` is that name, its `data` being JSON of the branch's `contentSchema`.
///
/// # Errors
/// An event name the document does not list, or data that does not match.
pub fn check_event(doc: &Value, path: &str, event: &str, data: &Value) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or_default();
    let at = format!("GET {path} event {event}");
    let t = template(doc, path).ok_or_else(|| format!("{at}: the path is not in the document"))?;
    let stream = &doc["paths"][t]["get"]["responses"]["200"]["content"]["text/event-stream"];
    let schema = stream["schema"]["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["properties"]["event"]["const"] == event)
        .map(|b| &b["properties"]["data"]["contentSchema"])
        .ok_or_else(|| format!("{at}: the event is not in the document"))?;
    validate(doc, schema, data, "data").map_err(|e| format!("{at}: {e}"))
}

/// Checks one answer to `method path` (query stripped).
///
/// # Errors
/// What does not match the document.
pub fn check(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or_default();
    let at = format!("{method} {path} → {status}");
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let Some(t) = template(doc, path) else {
        return if status == 404 {
            problem(doc, &at, header("content-type"), body)
        } else {
            Err(format!("{at}: the path is not in the document"))
        };
    };
    let Some(op) = doc["paths"][t].get(method.to_ascii_lowercase()) else {
        return if status == 405 && header("allow").is_some() {
            problem(doc, &at, header("content-type"), body)
        } else {
            Err(format!(
                "{at}: the method is not in the document for {t} (expected 405 with Allow)"
            ))
        };
    };
    let response = op["responses"]
        .get(status.to_string())
        .or_else(|| op["responses"].get("default"))
        .map(|r| resolve(doc, r))
        .ok_or_else(|| format!("{at}: status not documented for {method} {t}"))?;
    if let Some(hs) = response["headers"].as_object() {
        for (name, h) in hs {
            if h["required"] == true && header(name).is_none() {
                return Err(format!("{at}: documented header {name} is missing"));
            }
        }
    }
    let Some(content) = response["content"].as_object() else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!("{at}: a body where the document has none"))
        };
    };
    let ct = header("content-type").unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim();
    let schema = content.get(media).map(|m| &m["schema"]).ok_or_else(|| {
        format!(
            "{at}: content type {ct:?} is not documented ({:?})",
            content.keys().collect::<Vec<_>>()
        )
    })?;
    if !media.ends_with("json") {
        return Ok(());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("{at}: body is not JSON: {e}"))?;
    validate(doc, schema, &value, "body").map_err(|e| format!("{at}: {e}"))
}

fn problem(doc: &Value, at: &str, ct: Option<&str>, body: &[u8]) -> Result<(), String> {
    if ct != Some("application/problem+json") {
        return Err(format!(
            "{at}: a problem must be application/problem+json, not {ct:?}"
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("{at}: {e}"))?;
    let schema = serde_json::json!({"$ref": "#/components/schemas/Problem"});
    validate(doc, &schema, &value, "body").map_err(|e| format!("{at}: {e}"))
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn format_ok(f: &str, s: &str) -> bool {
    match f {
        "uuid" => s.len() == 36 && uuid::Uuid::parse_str(s).is_ok(),
        "date" => s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        _ => true,
    }
}

/// Validates `v` against `schema` (within `doc`), naming the first mismatch by its path `at`.
///
/// # Errors
/// The first mismatch.
pub fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(doc, schema);
    let fail = |why: String| Err(format!("{at}: {why} (value {v})"));
    match &s["type"] {
        Value::String(t) if !type_ok(t, v) => return fail(format!("not of type {t}")),
        Value::Array(ts) if !ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)) => {
            return fail(format!("not of any type {ts:?}"));
        }
        _ => {}
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return fail(format!("not {c}"));
    }
    if let Some(e) = s["enum"].as_array()
        && !e.contains(v)
    {
        return fail(format!("not one of {e:?}"));
    }
    if let Some(n) = v.as_f64() {
        if s["minimum"].as_f64().is_some_and(|m| n < m) {
            return fail(format!("below {}", s["minimum"]));
        }
        if s["maximum"].as_f64().is_some_and(|m| n > m) {
            return fail(format!("above {}", s["maximum"]));
        }
    }
    if let Some(text) = v.as_str() {
        let len = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
        if s["minLength"].as_u64().is_some_and(|m| len < m)
            || s["maxLength"].as_u64().is_some_and(|m| len > m)
        {
            return fail("length out of bounds".into());
        }
        if let Some(f) = s["format"].as_str()
            && !format_ok(f, text)
        {
            return fail(format!("not a {f}"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = u64::try_from(items.len()).unwrap_or(u64::MAX);
        if s["minItems"].as_u64().is_some_and(|m| n < m)
            || s["maxItems"].as_u64().is_some_and(|m| n > m)
        {
            return fail("item count out of bounds".into());
        }
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                validate(doc, item, x, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if let Some(name) = r.as_str()
                && !obj.contains_key(name)
            {
                return fail(format!("required {name} is missing"));
            }
        }
        let props = s["properties"].as_object();
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(p) => validate(doc, p, x, &format!("{at}.{k}"))?,
                None if s["additionalProperties"] == false => {
                    return fail(format!("{k} is not a documented property"));
                }
                None => {}
            }
        }
    }
    for sub in s["allOf"].as_array().into_iter().flatten() {
        validate(doc, sub, v, at)?;
    }
    if let Some(any) = s["anyOf"].as_array()
        && !any.iter().any(|sub| validate(doc, sub, v, at).is_ok())
    {
        return fail("matches none of anyOf".into());
    }
    if let Some(one) = s["oneOf"].as_array() {
        let n = one
            .iter()
            .filter(|sub| validate(doc, sub, v, at).is_ok())
            .count();
        if n != 1 {
            return fail(format!("matches {n} of oneOf, not exactly 1"));
        }
    }
    Ok(())
}
