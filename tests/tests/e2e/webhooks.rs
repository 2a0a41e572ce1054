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
        (json!({"enabled": null}), 400, "enabled"),
        (json!({"events": null}), 400, "events"),
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

/// A receiver on 127.0.0.1 (an actix-web server in this test process): records every request
/// and answers each with `status` (and `Location` when given).
mod receiver {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use actix_web::{App as Server, HttpRequest, HttpResponse, HttpServer, web};

    /// One request received.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub at: Instant,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_default()
        }
    }

    pub struct Receiver {
        pub url: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        handle: actix_web::dev::ServerHandle,
    }

    impl Receiver {
        pub async fn start(
            status: u16,
            location: Option<String>,
            body: &'static str,
        ) -> Result<Self, syllabus_e2e::Error> {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = Arc::clone(&seen);
            let server = HttpServer::new(move || {
                let record = Arc::clone(&record);
                let location = location.clone();
                Server::new().default_service(web::to(
                    move |req: HttpRequest, bytes: web::Bytes| {
                        let record = Arc::clone(&record);
                        let location = location.clone();
                        async move {
                            if let Ok(mut s) = record.lock() {
                                s.push(Seen {
                                    at: Instant::now(),
                                    path: req.path().to_owned(),
                                    headers: req
                                        .headers()
                                        .iter()
                                        .map(|(n, v)| {
                                            (
                                                n.as_str().to_owned(),
                                                v.to_str().unwrap_or("").to_owned(),
                                            )
                                        })
                                        .collect(),
                                    body: bytes.to_vec(),
                                });
                            }
                            let code = actix_web::http::StatusCode::from_u16(status)
                                .unwrap_or(actix_web::http::StatusCode::OK);
                            let mut res = HttpResponse::build(code);
                            if let Some(l) = location {
                                res.insert_header(("location", l));
                            }
                            res.body(body)
                        }
                    },
                ))
            })
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))?;
            let addr = server.addrs().first().copied().ok_or("no address")?;
            let server = server.run();
            let handle = server.handle();
            tokio::spawn(server);
            Ok(Self {
                url: format!("http://{addr}/hook"),
                seen,
                handle,
            })
        }

        pub fn seen(&self) -> Vec<Seen> {
            self.seen.lock().map(|s| s.clone()).unwrap_or_default()
        }

        /// Waits until `n` requests arrived, for at most `within`.
        pub async fn wait_for(
            &self,
            n: usize,
            within: Duration,
        ) -> Result<Vec<Seen>, syllabus_e2e::Error> {
            let deadline = Instant::now() + within;
            loop {
                let seen = self.seen();
                if seen.len() >= n {
                    return Ok(seen);
                }
                if Instant::now() > deadline {
                    return Err(format!("{} of {n} requests arrived", seen.len()).into());
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }

        pub async fn stop(self) {
            self.handle.stop(false).await;
        }
    }
}

use std::time::Duration;

use receiver::{Receiver, Seen};
use syllabus_e2e::plan_json;
use syllabus_testkit::fake_llm::Reply;

/// The fake model answers every generation with a valid plan.
fn plans_succeed(app: &App) {
    app.llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 4, Duration::ZERO));
}

/// The Standard Webhooks signature checked with a few lines of HMAC-SHA256 (not the product's
/// code): `v1,` and the base64 of HMAC(key = the secret's decoded bytes, id.timestamp.body).
fn verify(seen: &Seen, secret: &str) -> Result<(), syllabus_e2e::Error> {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").ok_or("secret")?)?;
    let id = seen.header("webhook-id").ok_or("no webhook-id")?;
    let ts = seen
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp")?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&seen.body);
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    let sent = seen
        .header("webhook-signature")
        .ok_or("no webhook-signature")?;
    if sent.split(' ').any(|s| s == expected) {
        Ok(())
    } else {
        Err(format!("signature {sent} is not {expected}").into())
    }
}

/// Creates an endpoint; its id and secret.
async fn endpoint(
    app: &App,
    user: &str,
    url: &str,
    events: &[&str],
) -> Result<(String, String), syllabus_e2e::Error> {
    let a = create(app, user, &hook(url, events)).await?;
    if a.status != 201 {
        return Err(format!("create endpoint: {} {}", a.status, a.body).into());
    }
    Ok((
        a.body["id"].as_str().ok_or("id")?.to_owned(),
        a.body["secret"].as_str().ok_or("secret")?.to_owned(),
    ))
}

/// The endpoint's deliveries (first page).
async fn deliveries(app: &App, user: &str, id: &str) -> Result<Vec<Value>, syllabus_e2e::Error> {
    let a = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=100"), user)
        .await?;
    Ok(a.body["items"].as_array().cloned().unwrap_or_default())
}

/// Waits until every delivery of the endpoint ended and there is at least one.
async fn ended(
    app: &App,
    user: &str,
    id: &str,
    within: Duration,
) -> Result<Vec<Value>, syllabus_e2e::Error> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let items = deliveries(app, user, id).await?;
        if !items.is_empty() && items.iter().all(|d| d["status"] != "pending") {
            return Ok(items);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("deliveries did not end: {items:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plans_generation_is_delivered_signed_to_subscribed_endpoints_only() -> TestResult {
    let app = App::start(Options::default()).await?;
    let wanted = Receiver::start(200, None, "thanks").await?;
    let unwanted = Receiver::start(200, None, "").await?;
    let others = Receiver::start(200, None, "").await?;
    let (hook_id, secret) =
        endpoint(&app, "hana", &wanted.url, &["plan.ready", "job.completed"]).await?;
    let (quiet_id, _) = endpoint(&app, "hana", &unwanted.url, &["job.failed"]).await?;
    let (theirs_id, _) = endpoint(&app, "ivan", &others.url, &["plan.ready"]).await?;
    plans_succeed(&app);

    let plan = app.create_plan("hana", "Webhooks for a plan").await?;
    let ready = app.settle("hana", &plan, Duration::from_secs(30)).await?;
    assert_eq!(ready["status"], "ready");
    let seen = wanted.wait_for(2, Duration::from_secs(30)).await?;
    assert_eq!(seen.len(), 2, "{seen:?}");
    let now = chrono::Utc::now().timestamp();
    let mut types = Vec::new();
    for s in &seen {
        verify(s, &secret)?;
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("user-agent"), Some("Syllabus-Webhooks/1"));
        assert_eq!(s.path, "/hook");
        let ts: i64 = s.header("webhook-timestamp").unwrap_or("0").parse()?;
        assert!((now - ts).abs() < 300, "timestamp {ts} vs {now}");
        let body = s.json();
        assert!(
            chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap_or("")).is_ok(),
            "{body}"
        );
        match body["type"].as_str() {
            Some("plan.ready") => {
                assert_eq!(body["data"]["plan_id"], plan.as_str());
                assert_eq!(body["data"]["status"], "ready");
                assert!(body["data"]["job_id"].is_string());
            }
            Some("job.completed") => {
                assert_eq!(body["data"]["job_type"], "plan_generation");
                assert_eq!(body["data"]["status"], "completed");
                assert_eq!(body["data"]["plan_id"], plan.as_str());
            }
            other => return Err(format!("unexpected event {other:?}").into()),
        }
        types.push(body["type"].as_str().unwrap_or("").to_owned());
    }
    types.sort();
    assert_eq!(types, ["job.completed", "plan.ready"]);

    // The deliveries say the same, by the ids sent.
    let items = ended(&app, "hana", &hook_id, Duration::from_secs(30)).await?;
    assert_eq!(items.len(), 2);
    for d in &items {
        assert_eq!(d["status"], "succeeded", "{d}");
        assert_eq!(d["attempt_count"], 1);
        assert_eq!(d["attempts"][0]["outcome"], "success");
        assert_eq!(d["attempts"][0]["status_code"], 200);
        assert_eq!(d["attempts"][0]["response_excerpt"], "thanks");
        assert!(
            seen.iter()
                .any(|s| s.header("webhook-id") == d["id"].as_str())
        );
    }
    // Not subscribed, or another user's: nothing was queued, nothing sent. (The deliveries
    // commit with the job's end, so these lists are final once the wanted ones exist.)
    assert!(deliveries(&app, "hana", &quiet_id).await?.is_empty());
    assert!(deliveries(&app, "ivan", &theirs_id).await?.is_empty());
    assert!(unwanted.seen().is_empty() && others.seen().is_empty());
    // The delivery jobs are the runtime's own: never listed.
    let jobs = app.get("/api/v1/jobs?limit=100", "hana").await?;
    assert!(
        jobs.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|j| j["type"] == "plan_generation"),
        "{}",
        jobs.body
    );
    assert_eq!(
        app.get("/api/v1/jobs?type=webhook_delivery", "hana")
            .await?
            .status,
        400
    );

    // A test event goes to that endpoint only.
    let test = app
        .post(
            &format!("/api/v1/webhooks/{hook_id}/test"),
            "hana",
            &json!({}),
        )
        .await?;
    assert_eq!(test.status, 202, "{}", test.body);
    let third = wanted.wait_for(3, Duration::from_secs(30)).await?;
    let last = &third[2];
    assert_eq!(last.header("webhook-id"), test.body["delivery_id"].as_str());
    assert_eq!(last.json()["type"], "webhook.test");
    verify(last, &secret)?;
    assert!(unwanted.seen().is_empty());
    for r in [wanted, unwanted, others] {
        r.stop().await;
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_receiver_sees_growing_gaps_then_the_endpoint_is_disabled() -> TestResult {
    // Gaps of 200 ms, 800 ms, 3.2 s; the next (12.8 s) is past the 8 s window: 4 attempts (the
    // fourth, due at 4.2 s, has almost 4 s to start on a loaded machine).
    let mut options = Options::default();
    options.webhooks.schedule.base = Duration::from_millis(200);
    options.webhooks.schedule.window = Duration::from_secs(8);
    let app = App::start(options).await?;
    let failing = Receiver::start(500, None, "boom\u{7} \r\nnot ok").await?;
    let (id, secret) = endpoint(&app, "jon", &failing.url, &["job.completed"]).await?;
    let test = app
        .post(&format!("/api/v1/webhooks/{id}/test"), "jon", &json!({}))
        .await?;
    assert_eq!(test.status, 202, "{}", test.body);
    let items = ended(&app, "jon", &id, Duration::from_secs(60)).await?;
    let seen = failing.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    for s in &seen {
        verify(s, &secret)?;
        assert_eq!(s.header("webhook-id"), test.body["delivery_id"].as_str());
    }
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    for pair in gaps.windows(2) {
        // Each gap at least the one before (with slack for a loaded machine's scheduling).
        assert!(
            pair[1] + Duration::from_millis(100) >= pair[0],
            "gaps shrink: {gaps:?}"
        );
    }
    assert!(gaps[2] >= Duration::from_millis(3_000), "{gaps:?}");
    assert_eq!(items.len(), 1);
    let d = &items[0];
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["attempt_count"], 4);
    assert_eq!(d["next_attempt_at"], Value::Null);
    for a in d["attempts"].as_array().into_iter().flatten() {
        assert_eq!(a["outcome"], "http_status");
        assert_eq!(a["status_code"], 500);
        assert_eq!(a["response_excerpt"], "boom not ok");
    }
    // Nothing succeeded to it since: disabled, with the reason.
    let path = format!("/api/v1/webhooks/{id}");
    let e = app.get(&path, "jon").await?;
    assert_eq!(e.body["enabled"], false, "{}", e.body);
    assert!(
        e.body["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("deliveries failing since ")),
        "{}",
        e.body
    );
    // On /metrics (its first reading in this process, so fresh): attempts by outcome.
    let metrics = app.send("GET", "/metrics", None, None, &[]).await?;
    assert!(
        metrics
            .text
            .contains("syllabus_webhook_attempts{outcome=\"http_status\"} 4"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("syllabus_webhook_attempts{outcome=\"success\"} 0")
    );
    // Re-enabled by its owner.
    let on = app
        .send(
            "PATCH",
            &path,
            Some("jon"),
            Some(&json!({"enabled": true})),
            &[],
        )
        .await?;
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["disabled_reason"], Value::Null);
    failing.stop().await;
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() -> TestResult {
    // Attempts at 0, 0.2 s and 1 s; the next (4.2 s) is past the 3 s window.
    let mut options = Options::default();
    options.webhooks.schedule.base = Duration::from_millis(200);
    options.webhooks.schedule.window = Duration::from_secs(3);
    let app = App::start(options).await?;
    let target = Receiver::start(200, None, "").await?;
    let redirecting = Receiver::start(302, Some(target.url.clone()), "").await?;
    let (id, _) = endpoint(&app, "kai", &redirecting.url, &["job.completed"]).await?;
    let test = app
        .post(&format!("/api/v1/webhooks/{id}/test"), "kai", &json!({}))
        .await?;
    assert_eq!(test.status, 202);
    let items = ended(&app, "kai", &id, Duration::from_secs(60)).await?;
    assert_eq!(items[0]["status"], "failed", "{}", items[0]);
    assert_eq!(items[0]["attempt_count"], 3);
    for a in items[0]["attempts"].as_array().into_iter().flatten() {
        assert_eq!(a["outcome"], "http_status");
        assert_eq!(a["status_code"], 302);
    }
    assert_eq!(redirecting.seen().len(), 3);
    assert!(target.seen().is_empty(), "the redirect was followed");
    // Ended deliveries are kept as long as provider calls (ATTEMPT_RETENTION_DAYS), then the
    // retention pass deletes them with their attempts.
    use syllabus_store::QueueStore as _;
    let pass = |days: i64| syllabus_store::records::Retention {
        calls_days: 1,
        aggregates_days: 400,
        rate_window: Duration::from_secs(3_600),
        now: chrono::Utc::now() + chrono::Duration::days(days),
    };
    app.store.retain_usage(pass(0)).await?;
    assert_eq!(deliveries(&app, "kai", &id).await?.len(), 1);
    let report = app.store.retain_usage(pass(2)).await?;
    assert!(report.leftovers_deleted >= 1, "{report:?}");
    assert!(deliveries(&app, "kai", &id).await?.is_empty());
    target.stop().await;
    redirecting.stop().await;
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_change_queues_and_sends_nothing() -> TestResult {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = App::start(Options::default()).await?;
    let receiver = Receiver::start(200, None, "").await?;
    // Only failures: the plan's generation below completes and queues nothing.
    let (id, _) = endpoint(&app, "lea", &receiver.url, &["job.failed"]).await?;
    plans_succeed(&app);
    let plan = app.create_plan("lea", "Rolled back").await?;
    let ready = app.settle("lea", &plan, Duration::from_secs(30)).await?;
    assert_eq!(ready["status"], "ready");
    let job = app.get("/api/v1/jobs", "lea").await?;
    let job_id = job.body["items"][0]["id"]
        .as_str()
        .ok_or("no job")?
        .to_owned();

    let mut conn = AsyncPgConnection::establish(&app.url).await?;
    let count = "SELECT count(*) AS n FROM webhook_deliveries";
    conn.batch_execute("BEGIN; SELECT set_config('syllabus.scope', 'system', true)")
        .await?;
    diesel::sql_query("UPDATE jobs SET status = 'failed' WHERE id = $1::uuid")
        .bind::<Text, _>(&job_id)
        .execute(&mut conn)
        .await?;
    // The trigger queued it inside the transaction…
    let inside: Count = diesel::sql_query(count).get_result(&mut conn).await?;
    assert_eq!(inside.n, 1);
    // …and the rollback takes it away with the change.
    conn.batch_execute("ROLLBACK").await?;
    conn.batch_execute("BEGIN; SELECT set_config('syllabus.scope', 'system', true)")
        .await?;
    let after: Count = diesel::sql_query(count).get_result(&mut conn).await?;
    let jobs: Count =
        diesel::sql_query("SELECT count(*) AS n FROM jobs WHERE job_type = 'webhook_delivery'")
            .get_result(&mut conn)
            .await?;
    conn.batch_execute("COMMIT").await?;
    assert_eq!((after.n, jobs.n), (0, 0));
    // A committed event afterwards is delivered, and it is the only one the receiver sees.
    let test = app
        .post(&format!("/api/v1/webhooks/{id}/test"), "lea", &json!({}))
        .await?;
    let seen = receiver.wait_for(1, Duration::from_secs(30)).await?;
    ended(&app, "lea", &id, Duration::from_secs(30)).await?;
    let seen_all = receiver.seen();
    assert_eq!(seen_all.len(), 1, "{seen_all:?}");
    assert_eq!(
        seen[0].header("webhook-id"),
        test.body["delivery_id"].as_str()
    );
    assert_eq!(deliveries(&app, "lea", &id).await?.len(), 1);
    receiver.stop().await;
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_resolving_to_a_refused_address_is_never_connected_to() -> TestResult {
    // Without WEBHOOK_ALLOW_LOOPBACK, `https://localhost` passes the URL rules (a name is checked
    // when it resolves), and the resolver drops every loopback address at connect time: the
    // attempts are `address_refused` and the receiver listening there sees nothing.
    let mut options = Options::default();
    options.webhooks.allow_loopback = false;
    options.webhooks.schedule.base = Duration::from_millis(200);
    options.webhooks.schedule.window = Duration::from_secs(3);
    let app = App::start(options).await?;
    let receiver = Receiver::start(200, None, "").await?;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let url = format!("https://localhost:{port}");
    let (id, _) = endpoint(&app, "max", &url, &["job.completed"]).await?;
    let test = app
        .post(&format!("/api/v1/webhooks/{id}/test"), "max", &json!({}))
        .await?;
    assert_eq!(test.status, 202, "{}", test.body);
    let items = ended(&app, "max", &id, Duration::from_secs(60)).await?;
    assert_eq!(items[0]["status"], "failed", "{}", items[0]);
    assert!(
        items[0]["attempt_count"].as_u64() >= Some(1),
        "{}",
        items[0]
    );
    for a in items[0]["attempts"].as_array().into_iter().flatten() {
        assert_eq!(a["outcome"], "address_refused", "{a}");
        assert_eq!(a["status_code"], Value::Null);
    }
    assert!(receiver.seen().is_empty());
    receiver.stop().await;
    app.stop().await;
    Ok(())
}

/// A delivery whose job the runtime gives up (its runs stopped their worker `MAX_RESCUES` times)
/// ends with it, `failed`, instead of staying `pending` behind a failed job; nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_given_up_after_rescues_ends_failed_with_its_job() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let queued = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let receiver = Receiver::start(204, None, "").await?;
    let (id, _) = endpoint(&queued, "lou", &receiver.url, &["job.completed"]).await?;
    let test = queued
        .post(&format!("/api/v1/webhooks/{id}/test"), "lou", &json!({}))
        .await?;
    assert_eq!(test.status, 202, "{}", test.body);
    let admin = queued.admin_url().ok_or("no admin url")?;
    let mut conn = AsyncPgConnection::establish(admin).await?;
    conn.batch_execute("UPDATE jobs SET rescues = 3 WHERE job_type = 'webhook_delivery'")
        .await?;
    let running = App::start_on(queued.url.clone(), None, Options::default()).await?;
    let items = ended(&running, "lou", &id, Duration::from_secs(30)).await?;
    assert_eq!(items[0]["status"], "failed", "{}", items[0]);
    assert_eq!(items[0]["attempt_count"], 0, "{}", items[0]);
    assert!(items[0]["ended_at"].is_string(), "{}", items[0]);
    assert!(
        receiver.seen().is_empty(),
        "a given-up delivery is not sent"
    );
    receiver.stop().await;
    running.stop().await;
    queued.stop().await;
    Ok(())
}

/// A test event waits for the one before it: while a test delivery to the endpoint is pending
/// (here: no worker runs it), another is 409, so tests cannot pile up retrying deliveries.
#[tokio::test(flavor = "multi_thread")]
async fn a_test_event_is_refused_while_the_last_one_is_pending() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let receiver = Receiver::start(204, None, "").await?;
    let (id, _) = endpoint(&app, "max", &receiver.url, &["job.completed"]).await?;
    let path = format!("/api/v1/webhooks/{id}/test");
    let first = app.post(&path, "max", &json!({})).await?;
    assert_eq!(first.status, 202, "{}", first.body);
    let second = app.post(&path, "max", &json!({})).await?;
    assert_eq!(second.status, 409, "{}", second.body);
    assert_eq!(second.body["code"], "INVALID_STATE");
    assert_eq!(deliveries(&app, "max", &id).await?.len(), 1);
    receiver.stop().await;
    app.stop().await;
    Ok(())
}
