//! Signed webhooks (issue #23): endpoints owner-only with the secret shown once, the limit, the
//! refusals naming their field. Every URL here is on 127.0.0.1: creating or changing an
//! endpoint sends nothing, and no test sends traffic to any other address.

use serde_json::{Value, json};
use syllabus_e2e::{Answer, App, Options};

type TestResult = Result<(), syllabus_e2e::Error>;

async fn create(app: &App, user: &str, body: &Value) -> Result<Answer, syllabus_e2e::Error> {
    app.post("/api/v1/webhooks", user, body).await
}

fn hook(url: &str, events: &[&str]) -> Value {
    json!({ "url": url, "events": events })
}

/// The single field a problem names, and its status.
fn refused(a: &Answer) -> (u16, String) {
    (
        a.status,
        a.body["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_are_owner_only_and_show_their_secret_once() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let made = create(
        &app,
        "alice",
        &json!({
            "url": "http://127.0.0.1:9/hook?x=1",
            "events": ["job.completed", "plan.ready", "job.completed"],
            "description": "  CI  ",
        }),
    )
    .await?;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.body["id"].as_str().ok_or("no id")?.to_owned();
    assert_eq!(
        made.header("location"),
        Some(format!("/api/v1/webhooks/{id}").as_str())
    );
    assert_eq!(made.body["events"], json!(["job.completed", "plan.ready"]));
    assert_eq!(made.body["description"], "CI");
    assert_eq!(made.body["enabled"], true);
    assert_eq!(made.body["disabled_reason"], Value::Null);
    let secret = made.body["secret"].as_str().ok_or("no secret")?;
    let key = secret.strip_prefix("whsec_").ok_or("not whsec_")?;
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .map(|k| k.len())
            .ok(),
        Some(32)
    );

    // Never again: not in the list, not in the endpoint.
    let list = app.get("/api/v1/webhooks", "alice").await?;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    assert!(list.body["items"][0].get("secret").is_none());
    assert!(!list.text.contains(key));
    let one = app.get(&format!("/api/v1/webhooks/{id}"), "alice").await?;
    assert_eq!(one.status, 200);
    assert!(one.body.get("secret").is_none());
    assert_eq!(one.body["id"], id.as_str());

    // Another user sees nothing of it and changes nothing.
    let path = format!("/api/v1/webhooks/{id}");
    for (method, p, body) in [
        ("GET", path.clone(), None),
        ("PATCH", path.clone(), Some(json!({"enabled": false}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/test"), None),
        ("GET", format!("{path}/deliveries"), None),
    ] {
        let a = app
            .send(method, &p, Some("bob"), body.as_ref(), &[])
            .await?;
        assert_eq!(a.status, 404, "{method} {p}: {}", a.body);
    }
    let theirs = app.get("/api/v1/webhooks", "bob").await?;
    assert_eq!(theirs.body["items"], json!([]));

    // Changes: events, disabling by hand, a refused test, enabling again.
    let changed = app
        .send(
            "PATCH",
            &path,
            Some("alice"),
            Some(&json!({"events": ["job.failed"]})),
            &[],
        )
        .await?;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["events"], json!(["job.failed"]));
    let off = app
        .send(
            "PATCH",
            &path,
            Some("alice"),
            Some(&json!({"enabled": false})),
            &[],
        )
        .await?;
    assert_eq!(off.body["enabled"], false);
    assert_eq!(off.body["disabled_reason"], "disabled by its owner");
    let test = app
        .post(&format!("{path}/test"), "alice", &json!({}))
        .await?;
    assert_eq!(test.status, 409, "{}", test.body);
    assert_eq!(test.body["code"], "INVALID_STATE");
    let on = app
        .send(
            "PATCH",
            &path,
            Some("alice"),
            Some(&json!({"enabled": true})),
            &[],
        )
        .await?;
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["disabled_reason"], Value::Null);
    let deliveries = app.get(&format!("{path}/deliveries"), "alice").await?;
    assert_eq!(deliveries.status, 200);
    assert_eq!(deliveries.body, json!({"items": [], "next_cursor": null}));

    // Deleted: gone for good.
    let gone = app.send("DELETE", &path, Some("alice"), None, &[]).await?;
    assert_eq!(gone.status, 204);
    assert_eq!(app.get(&path, "alice").await?.status, 404);
    assert_eq!(
        app.send("DELETE", &path, Some("alice"), None, &[])
            .await?
            .status,
        404
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_naming_the_field() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let ok_url = "http://127.0.0.1:9/in";
    let cases = [
        (hook(ok_url, &[]), 422, "events"),
        (hook(ok_url, &["plan.ready", "plan.done"]), 422, "events"),
        (hook(ok_url, &["webhook.test"]), 422, "events"),
        (
            json!({"url": ok_url, "events": "plan.ready"}),
            400,
            "events",
        ),
        (json!({"url": ok_url}), 400, "events"),
        (json!({"events": ["plan.ready"]}), 400, "url"),
        (json!({"url": 7, "events": ["plan.ready"]}), 400, "url"),
        (hook("ftp://127.0.0.1/x", &["plan.ready"]), 422, "url"),
        (hook("not a url", &["plan.ready"]), 422, "url"),
        (hook("http://u:p@127.0.0.1:9/", &["plan.ready"]), 422, "url"),
        (hook("https://10.0.0.1/in", &["plan.ready"]), 422, "url"),
        (
            hook("https://169.254.169.254/", &["plan.ready"]),
            422,
            "url",
        ),
        (
            hook("https://[::ffff:192.168.0.1]/", &["plan.ready"]),
            422,
            "url",
        ),
        (hook("http://192.0.2.1/", &["plan.ready"]), 422, "url"),
        (
            json!({"url": ok_url, "events": ["plan.ready"], "description": "d".repeat(201)}),
            422,
            "description",
        ),
        (
            json!({"url": ok_url, "events": ["plan.ready"], "description": 3}),
            400,
            "description",
        ),
        (
            json!({"url": ok_url, "events": ["plan.ready"], "secret": "whsec_x"}),
            400,
            "secret",
        ),
    ];
    for (body, status, field) in cases {
        let a = create(&app, "carol", &body).await?;
        assert_eq!(
            refused(&a),
            (status, field.to_owned()),
            "{body}: {}",
            a.body
        );
    }
    let made = create(&app, "carol", &hook(ok_url, &["plan.ready"])).await?;
    assert_eq!(made.status, 201, "{}", made.body);
    let path = format!(
        "/api/v1/webhooks/{}",
        made.body["id"].as_str().unwrap_or_default()
    );
    for (body, status, field) in [
        (json!({"events": []}), 422, "events"),
        (json!({"events": ["job.done"]}), 422, "events"),
        (json!({"enabled": "yes"}), 400, "enabled"),
        (json!({"url": "http://127.0.0.1:8/"}), 400, "url"),
    ] {
        let a = app
            .send("PATCH", &path, Some("carol"), Some(&body), &[])
            .await?;
        assert_eq!(
            refused(&a),
            (status, field.to_owned()),
            "{body}: {}",
            a.body
        );
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_has_at_most_ten_endpoints() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut ids = Vec::new();
    for i in 0..10 {
        let a = create(
            &app,
            "dan",
            &hook(&format!("http://127.0.0.1:9/{i}"), &["job.failed"]),
        )
        .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        ids.push(a.body["id"].as_str().unwrap_or_default().to_owned());
    }
    let over = create(&app, "dan", &hook("http://127.0.0.1:9/x", &["job.failed"])).await?;
    assert_eq!(over.status, 409, "{}", over.body);
    assert_eq!(over.body["code"], "WEBHOOK_LIMIT");
    // Another user's limit is their own.
    let other = create(&app, "erin", &hook("http://127.0.0.1:9/x", &["job.failed"])).await?;
    assert_eq!(other.status, 201);
    // Newest first.
    let list = app.get("/api/v1/webhooks", "dan").await?;
    let listed: Vec<&str> = list.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str())
        .collect();
    let mut newest_first: Vec<&str> = ids.iter().map(String::as_str).collect();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let first = format!("/api/v1/webhooks/{}", ids[0]);
    assert_eq!(
        app.send("DELETE", &first, Some("dan"), None, &[])
            .await?
            .status,
        204
    );
    let again = create(&app, "dan", &hook("http://127.0.0.1:9/y", &["job.failed"])).await?;
    assert_eq!(again.status, 201, "{}", again.body);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_with_an_idempotency_key_is_replayed_with_the_same_endpoint() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let body = hook("http://127.0.0.1:9/k", &["plan.failed"]);
    let send = || {
        app.send(
            "POST",
            "/api/v1/webhooks",
            Some("fay"),
            Some(&body),
            &[("Idempotency-Key", "hook-1")],
        )
    };
    let first = send().await?;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send().await?;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let list = app.get("/api/v1/webhooks", "fay").await?;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn http_and_loopback_are_refused_without_the_setting() -> TestResult {
    let mut options = Options {
        workers: false,
        ..Options::default()
    };
    options.webhooks.allow_loopback = false;
    let app = App::start(options).await?;
    for url in [
        "http://127.0.0.1:9/in",
        "http://localhost:9/in",
        "https://127.0.0.1/in",
        "https://[::1]/in",
    ] {
        let a = create(&app, "gus", &hook(url, &["plan.ready"])).await?;
        assert_eq!(refused(&a), (422, "url".to_owned()), "{url}: {}", a.body);
    }
    let list = app.get("/api/v1/webhooks", "gus").await?;
    assert_eq!(list.body["items"], json!([]));
    app.stop().await;
    Ok(())
}
