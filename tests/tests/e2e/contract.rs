//! The API against its OpenAPI document: the client of `syllabus_e2e::App` checks every answer,
//! these tests show that it catches drift, and that the answers schemathesis found undocumented
//! or wrong now match the document.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;
use syllabus_e2e::openapi::{check, document};
use syllabus_e2e::{App, Error, Options, plan_body};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn the_checker_reports_drift() {
    let doc = document();
    let json = headers(&[("content-type", "application/json")]);
    let ok = json!({"status": "ok"}).to_string();
    assert_eq!(
        check(&doc, "GET", "/healthz", 200, &json, ok.as_bytes()),
        Ok(())
    );
    // An undocumented status, a wrong content type, a wrong body, an unknown field.
    let drift = [
        check(&doc, "GET", "/healthz", 418, &json, ok.as_bytes()),
        check(
            &doc,
            "GET",
            "/healthz",
            200,
            &headers(&[("content-type", "text/plain")]),
            b"ok",
        ),
        check(
            &doc,
            "GET",
            "/healthz",
            200,
            &json,
            br#"{"status": "fine"}"#,
        ),
        check(
            &doc,
            "GET",
            "/healthz",
            200,
            &json,
            br#"{"status": "ok", "extra": 1}"#,
        ),
        check(
            &doc,
            "GET",
            "/api/v1/jobs/0190a8b2-0000-7000-8000-000000000000",
            200,
            &json,
            br#"{"id": "x"}"#,
        ),
        // A 405 must say Allow; a path outside the document must be 404.
        check(
            &doc,
            "TRACE",
            "/api/v1/plans",
            405,
            &headers(&[("content-type", "application/problem+json")]),
            b"{}",
        ),
        check(&doc, "GET", "/api/v2/plans", 200, &json, ok.as_bytes()),
        // A 202 without its documented Location.
        check(
            &doc,
            "POST",
            "/api/v1/plans/0190a8b2-0000-7000-8000-000000000000/skill-tree",
            202,
            &json,
            b"{}",
        ),
    ];
    for (i, d) in drift.iter().enumerate() {
        assert!(d.is_err(), "case {i} was not reported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_methods_are_405_with_allow() -> Result<(), Error> {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    for (method, path, allow) in [
        ("TRACE", "/api/v1/plans", "GET, POST"),
        (
            "PUT",
            "/api/v1/plans/0190a8b2-0000-7000-8000-000000000000",
            "GET, PATCH, DELETE",
        ),
        ("DELETE", "/api/v1/jobs", "GET, POST"),
        ("POST", "/healthz", "GET"),
    ] {
        let res = app.send(method, path, Some("u1"), None, &[]).await?;
        assert_eq!(res.status, 405, "{method} {path}");
        assert_eq!(res.header("allow"), Some(allow));
        assert_eq!(res.body["code"], "METHOD_NOT_ALLOWED");
    }
    let res = app
        .send("GET", "/api/v1/nothing", Some("u1"), None, &[])
        .await?;
    assert_eq!(res.status, 404);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_queries_get_the_documented_answers() -> Result<(), Error> {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    // JSON Schema's integer 5.0 is an integer.
    let mut body = plan_body("Rust async");
    body["weekly_hours"] = json!(5.0);
    let res = app.post("/api/v1/plans", "u1", &body).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    let plan = res.body["id"].as_str().unwrap_or_default().to_owned();
    // 2.0 cards reach the logic behind: the pending plan has no modules yet.
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "u1",
            &json!({"max_cards": 2.0}),
        )
        .await?;
    assert_eq!(
        (res.status, &res.body["code"]),
        (409, &json!("INVALID_STATE"))
    );
    let res = app
        .post(
            "/api/v1/jobs",
            "u1",
            &json!({"type": "skill_tree", "payload": {"plan_id": plan}, "priority": 3.0}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(res.body["priority"], 3);
    // No body, or not JSON: 415, documented for every operation with a body.
    for path in [
        format!("/api/v1/plans/{plan}/flashcards"),
        "/api/v1/plans".into(),
        "/api/v1/jobs".into(),
    ] {
        let res = app
            .send_bytes("POST", &path, Some("u1"), None, None, &[])
            .await?;
        assert_eq!(res.status, 415, "{path}");
        let res = app
            .send_bytes(
                "POST",
                &path,
                Some("u1"),
                Some(b"x".to_vec()),
                Some("text/plain"),
                &[],
            )
            .await?;
        assert_eq!(res.status, 415, "{path}");
    }
    // Forms the document does not admit are refused, naming the field.
    let mut body = plan_body("Rust async");
    body["start_date"] = json!("2026-1-5");
    let res = app.post("/api/v1/plans", "u1", &body).await?;
    assert_eq!(
        (res.status, &res.body["errors"][0]["field"]),
        (400, &json!("start_date"))
    );
    let res = app
        .get(
            "/api/v1/plans?cursor=c0190a8b2-0000-7000-8000-000000000000",
            "u1",
        )
        .await?;
    assert_eq!(
        (res.status, &res.body["errors"][0]["field"]),
        (400, &json!("cursor"))
    );
    let simple = plan.replace('-', "");
    let res = app
        .post(
            "/api/v1/jobs",
            "u1",
            &json!({"type": "skill_tree", "payload": {"plan_id": simple}}),
        )
        .await?;
    assert_eq!(
        (res.status, &res.body["errors"][0]["field"]),
        (400, &json!("payload.plan_id"))
    );
    // /metrics is OpenMetrics text, as documented.
    let res = app.send("GET", "/metrics", None, None, &[]).await?;
    assert_eq!(res.status, 200);
    app.stop().await;
    Ok(())
}
