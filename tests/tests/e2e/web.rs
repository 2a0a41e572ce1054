//! The server side of the web app: the embedded files at `/` and `/assets/{name}` with their
//! headers and revalidation, `GET /api/v1/session`, and development sign-in.

use serde_json::{Value, json};
use syllabus_e2e::{App, Error, Options, plan_body};

type TestResult = Result<(), Error>;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

async fn app(dev_sign_in: bool) -> Result<App, Error> {
    App::start(Options {
        workers: false,
        dev_sign_in,
        ..Options::default()
    })
    .await
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Sends `method path` outside the OpenAPI checks of [`App::send`]: the app's files are not API.
async fn raw(
    app: &App,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<reqwest::Response, Error> {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Ok(req.send().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_their_types_and_security_headers() -> TestResult {
    let app = app(false).await?;
    for (path, content_type, marker) in [
        ("/", "text/html; charset=utf-8", "<!doctype html>"),
        ("/assets/app.js", "text/javascript; charset=utf-8", ""),
        ("/assets/app.css", "text/css; charset=utf-8", ""),
        ("/assets/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let res = raw(&app, reqwest::Method::GET, path, &[]).await?;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), content_type, "{path}");
        assert_eq!(header(&res, "content-security-policy"), CSP, "{path}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        assert!(!header(&res, "x-request-id").is_empty(), "{path}");
        let etag = header(&res, "etag").to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
            "{path}: a strong ETag, not {etag:?}"
        );
        let body = res.text().await?;
        assert!(!body.is_empty() && body.contains(marker), "{path}: {body}");

        // Revalidation: the same tag (also weakly, or in a list) is a 304 without a body.
        for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
            let res = raw(
                &app,
                reqwest::Method::GET,
                path,
                &[("if-none-match", tag.as_str())],
            )
            .await?;
            assert_eq!(res.status(), 304, "{path} {tag}");
            assert_eq!(header(&res, "etag"), etag, "{path}");
            assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
            assert!(res.bytes().await?.is_empty(), "{path}");
        }
        let res = raw(
            &app,
            reqwest::Method::GET,
            path,
            &[("if-none-match", "\"stale\"")],
        )
        .await?;
        assert_eq!(res.status(), 200, "{path}: another tag is a full answer");

        // HEAD: the same head, no body.
        let res = raw(&app, reqwest::Method::HEAD, path, &[]).await?;
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert_eq!(header(&res, "content-type"), content_type, "HEAD {path}");
        assert_eq!(header(&res, "etag"), etag, "HEAD {path}");
        assert!(res.bytes().await?.is_empty(), "HEAD {path}");
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_assets_are_404_problems_and_api_paths_keep_their_404_and_405() -> TestResult {
    let app = app(false).await?;
    // Checked against the document: a path outside it must be a 404 problem.
    for path in [
        "/assets/nothing.js",
        "/assets/",
        "/assets/web/app.js",
        "/index.html",
        "/api/v1/nothing",
    ] {
        let res = app.send("GET", path, None, None, &[]).await?;
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.body["code"], "NOT_FOUND", "{path}");
    }
    for (method, path, allow) in [
        ("POST", "/", "GET, HEAD"),
        ("DELETE", "/assets/app.js", "GET, HEAD"),
    ] {
        let res = raw(
            &app,
            reqwest::Method::from_bytes(method.as_bytes())?,
            path,
            &[],
        )
        .await?;
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(header(&res, "allow"), allow, "{method} {path}");
        assert_eq!(header(&res, "content-type"), "application/problem+json");
    }
    let res = app
        .send("PUT", "/api/v1/session", Some("u1"), None, &[])
        .await?;
    assert_eq!((res.status, res.header("allow")), (405, Some("GET")));
    let res = app
        .send("GET", "/api/v1/session/dev", None, None, &[])
        .await?;
    assert_eq!((res.status, res.header("allow")), (405, Some("POST")));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_names_the_tokens_user_or_null_and_refuses_a_bad_token() -> TestResult {
    let app = app(false).await?;
    let res = app.send("GET", "/api/v1/session", None, None, &[]).await?;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, json!({"user_id": null, "dev_sign_in": false}));
    assert_eq!(res.header("cache-control"), Some("no-store"));

    let res = app.get("/api/v1/session", "alice").await?;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, json!({"user_id": "alice", "dev_sign_in": false}));

    for bad in ["Bearer not-a-token", "Basic YWxpY2U6c2VjcmV0", "Bearer "] {
        let res = app
            .send(
                "GET",
                "/api/v1/session",
                None,
                None,
                &[("authorization", bad)],
            )
            .await?;
        assert_eq!(res.status, 401, "{bad}");
        assert_eq!(res.body["code"], "UNAUTHORIZED", "{bad}");
    }
    // An expired token, signed with the right secret.
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "alice", "exp": chrono::Utc::now().timestamp() - 3_600}),
        &jsonwebtoken::EncodingKey::from_secret(syllabus_e2e::SECRET.as_bytes()),
    )?;
    let res = app
        .send(
            "GET",
            "/api/v1/session",
            None,
            None,
            &[("authorization", &format!("Bearer {expired}"))],
        )
        .await?;
    assert_eq!(res.status, 401);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_sign_in_is_absent_unless_switched_on() -> TestResult {
    let app = app(false).await?;
    for body in [
        Some(json!({"name": "alice"})),
        Some(json!({"name": ""})),
        Some(json!([1])),
        None,
    ] {
        let res = app
            .send("POST", "/api/v1/session/dev", None, body.as_ref(), &[])
            .await?;
        assert_eq!(res.status, 404, "{body:?}");
        assert_eq!(res.body["code"], "NOT_FOUND", "{body:?}");
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_sign_in_token_works_as_its_user_and_only_as_its_user() -> TestResult {
    let app = app(true).await?;
    let res = app.send("GET", "/api/v1/session", None, None, &[]).await?;
    assert_eq!(res.body, json!({"user_id": null, "dev_sign_in": true}));

    let before = chrono::Utc::now();
    let res = app
        .send(
            "POST",
            "/api/v1/session/dev",
            None,
            Some(&json!({"name": "  alice  "})),
            &[],
        )
        .await?;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.body["user_id"], "alice", "the name is trimmed");
    let expires =
        chrono::DateTime::parse_from_rfc3339(res.body["expires_at"].as_str().ok_or("expires_at")?)?;
    let lifetime = expires.signed_duration_since(before).num_seconds();
    assert!(
        (12 * 3_600 - 5..=12 * 3_600 + 5).contains(&lifetime),
        "12 h, not {lifetime} s"
    );
    let token = res.body["token"].as_str().ok_or("token")?.to_owned();
    let bearer = format!("Bearer {token}");
    let as_alice = [("authorization", bearer.as_str())];

    let res = app
        .send("GET", "/api/v1/session", None, None, &as_alice)
        .await?;
    assert_eq!(res.body, json!({"user_id": "alice", "dev_sign_in": true}));

    // The token creates and lists alice's plans ...
    let res = app
        .send(
            "POST",
            "/api/v1/plans",
            None,
            Some(&plan_body("Signed in through the app")),
            &as_alice,
        )
        .await?;
    assert_eq!(res.status, 201, "{}", res.body);
    let plan = res.body["id"].as_str().ok_or("id")?.to_owned();
    let res = app
        .send("GET", "/api/v1/plans", None, None, &as_alice)
        .await?;
    let ids: Vec<&Value> = res.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&json!(plan)]);
    // ... which are alice's, as a token from anywhere else says.
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), "alice")
            .await?
            .status,
        200
    );
    // Not bob's: bob does not see it, and alice's token does not see bob's.
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), "bob")
            .await?
            .status,
        404
    );
    let bobs = app.create_plan("bob", "Bob's own topic").await?;
    let res = app
        .send(
            "GET",
            &format!("/api/v1/plans/{bobs}"),
            None,
            None,
            &as_alice,
        )
        .await?;
    assert_eq!(res.status, 404);
    let res = app.get("/api/v1/plans", "bob").await?;
    assert_eq!(res.body["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_name_is_a_validation_problem_naming_the_field() -> TestResult {
    let app = app(true).await?;
    for body in [
        json!({}),
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": 42}),
        json!({"name": "a\u{7}b"}),
        json!({"name": "x".repeat(256)}),
    ] {
        let res = app
            .send("POST", "/api/v1/session/dev", None, Some(&body), &[])
            .await?;
        assert_eq!(res.status, 400, "{body}");
        assert_eq!(res.body["code"], "VALIDATION_ERROR", "{body}");
        assert_eq!(
            res.body["errors"][0]["field"], "name",
            "{body}: {}",
            res.body
        );
    }
    // The body's own faults are answered as everywhere: not an object, not JSON.
    let res = app
        .send("POST", "/api/v1/session/dev", None, Some(&json!([1])), &[])
        .await?;
    assert_eq!(
        (res.status, &res.body["errors"][0]["field"]),
        (400, &json!("body"))
    );
    let res = app
        .send_bytes(
            "POST",
            "/api/v1/session/dev",
            None,
            Some(b"name=alice".to_vec()),
            Some("application/x-www-form-urlencoded"),
            &[],
        )
        .await?;
    assert_eq!(res.status, 415);
    app.stop().await;
    Ok(())
}

/// A page on another name that rebinds its DNS to this machine's loopback address must not mint
/// tokens through the learner's browser: only requests addressed to a loopback name are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_sign_in_answers_only_requests_addressed_to_a_loopback_name() -> TestResult {
    let app = app(true).await?;
    let body = json!({"name": "alice"});
    for (host, status) in [
        ("evil.example", 404),
        ("evil.example:8080", 404),
        ("10.0.0.5:8080", 404),
        ("localhost:8080", 201),
        ("127.0.0.1", 201),
        ("[::1]:8080", 201),
    ] {
        let res = app
            .send(
                "POST",
                "/api/v1/session/dev",
                None,
                Some(&body),
                &[("host", host)],
            )
            .await?;
        assert_eq!(res.status, status, "{host}: {}", res.body);
        assert_eq!(res.body.get("token").is_some(), status == 201, "{host}");
    }
    app.stop().await;
    Ok(())
}

/// The forwarding headers a page can set with `fetch`, and a foreign `Origin`, do not get around
/// the loopback guard: only the request's own `Host` counts, forwarding headers are refused, and
/// an `Origin` must be absent or loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_sign_in_ignores_forwarding_headers_and_needs_a_loopback_origin() -> TestResult
{
    let app = app(true).await?;
    let body = json!({"name": "mallory"});
    for (headers, status) in [
        (
            vec![
                ("host", "evil.example:8080"),
                ("x-forwarded-host", "localhost"),
            ],
            404,
        ),
        (
            vec![
                ("host", "evil.example:8080"),
                ("forwarded", "host=localhost"),
            ],
            404,
        ),
        (
            vec![
                ("host", "localhost:8080"),
                ("x-forwarded-host", "localhost"),
            ],
            404,
        ),
        (
            vec![("host", "localhost:8080"), ("forwarded", "for=127.0.0.1")],
            404,
        ),
        (
            vec![("host", "localhost:8080"), ("x-forwarded-for", "127.0.0.1")],
            404,
        ),
        (
            vec![
                ("host", "localhost:8080"),
                ("origin", "http://evil.example"),
            ],
            404,
        ),
        (vec![("host", "localhost:8080"), ("origin", "null")], 404),
        (
            vec![
                ("host", "localhost:8080"),
                ("origin", "http://localhost.evil.example"),
            ],
            404,
        ),
        (
            vec![
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080"),
            ],
            201,
        ),
        (
            vec![
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ],
            201,
        ),
    ] {
        let res = app
            .send("POST", "/api/v1/session/dev", None, Some(&body), &headers)
            .await?;
        assert_eq!(res.status, status, "{headers:?}: {}", res.body);
        assert_eq!(
            res.body.get("token").is_some(),
            status == 201,
            "{headers:?}"
        );
    }
    app.stop().await;
    Ok(())
}

mod edge {
    //! The server's edge against clients that hold what they open (issue #18), with real sockets.

    use std::time::Duration;

    use serde_json::json;
    use syllabus_api::Limits;
    use syllabus_e2e::{App, Error, Options, token};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    type TestResult = Result<(), Error>;

    async fn app(limits: Limits, dev_sign_in: bool) -> Result<App, Error> {
        App::start(Options {
            workers: false,
            dev_sign_in,
            limits,
            // A stream learns that its client left when a write fails.
            sse_keepalive: Duration::from_millis(300),
            ..Options::default()
        })
        .await
    }

    async fn connect(app: &App) -> Result<TcpStream, Error> {
        Ok(TcpStream::connect(app.base.trim_start_matches("http://")).await?)
    }

    /// Reads until the server closes the connection (or `within` passes: an error).
    async fn read_to_close(sock: &mut TcpStream, within: Duration) -> Result<String, Error> {
        let mut out = Vec::new();
        tokio::time::timeout(within, async {
            let mut buf = [0_u8; 4096];
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await
        .map_err(|_| {
            format!(
                "still open after {within:?}: {}",
                String::from_utf8_lossy(&out)
            )
        })?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The head of a POST whose body announces 60,000 bytes and sends one.
    fn slow_post(path: &str, bearer: Option<&str>) -> String {
        let auth = bearer.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{{"
        )
    }

    fn status_of(answer: &str) -> Option<u16> {
        answer.split(' ').nth(1)?.parse().ok()
    }

    /// A body that never finishes is a 408 problem once its deadline passes, and the connection
    /// is closed; a route that needs no body (sign-in switched off) or a caller without a token
    /// is answered at once, without reading a byte of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_that_never_arrives_is_cut_by_its_deadline_and_unwanted_bodies_are_never_read()
    -> TestResult {
        let within = Duration::from_millis(1_500);
        let app = app(
            Limits {
                body_timeout: within,
                ..Limits::default()
            },
            false,
        )
        .await?;

        // Sign-in off: 404 at once, whatever the body is doing.
        let mut sock = connect(&app).await?;
        sock.write_all(slow_post("/api/v1/session/dev", None).as_bytes())
            .await?;
        let answer = read_first_answer(&mut sock, Duration::from_millis(1_000)).await?;
        assert_eq!(status_of(&answer), Some(404), "{answer}");

        // No token: 401 at once.
        let mut sock = connect(&app).await?;
        sock.write_all(slow_post("/api/v1/plans", None).as_bytes())
            .await?;
        let answer = read_first_answer(&mut sock, Duration::from_millis(1_000)).await?;
        assert_eq!(status_of(&answer), Some(401), "{answer}");

        // No token, with an `Idempotency-Key` (issue #23: the key's fingerprint is taken as the
        // handler reads the body, never before the caller is known): 401 at once.
        let mut sock = connect(&app).await?;
        let keyed = slow_post("/api/v1/plans", None).replacen(
            "\r\n\r\n",
            "\r\nIdempotency-Key: slow-key\r\n\r\n",
            1,
        );
        sock.write_all(keyed.as_bytes()).await?;
        let answer = read_first_answer(&mut sock, Duration::from_millis(1_000)).await?;
        assert_eq!(status_of(&answer), Some(401), "{answer}");

        // A signed-in user's body that stalls: 408 problem after the deadline, then closed.
        let started = tokio::time::Instant::now();
        let mut socks = Vec::new();
        for _ in 0..20 {
            let mut sock = connect(&app).await?;
            sock.write_all(slow_post("/api/v1/plans", Some(&token("alice"))).as_bytes())
                .await?;
            socks.push(sock);
        }
        for sock in &mut socks {
            let answer = read_to_close(sock, within * 4).await?;
            assert_eq!(status_of(&answer), Some(408), "{answer}");
            assert!(answer.contains("application/problem+json"), "{answer}");
            assert!(answer.contains("\"code\":\"REQUEST_TIMEOUT\""), "{answer}");
        }
        assert!(started.elapsed() >= within, "not before the deadline");
        // Nothing was created, and the server still answers.
        let plans = app.get("/api/v1/plans", "alice").await?;
        assert_eq!(plans.body["items"], json!([]));
        app.stop().await;
        Ok(())
    }

    /// Reads one answer's head and as much body as came with it.
    async fn read_first_answer(sock: &mut TcpStream, within: Duration) -> Result<String, Error> {
        let mut buf = vec![0_u8; 8192];
        let n = tokio::time::timeout(within, sock.read(&mut buf))
            .await
            .map_err(|_| format!("no answer within {within:?}"))??;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// A connection that never completes its head is answered 408 and closed at the head
    /// deadline.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_head_that_never_ends_is_closed_at_its_deadline() -> TestResult {
        let app = app(
            Limits {
                head_timeout: Duration::from_millis(500),
                ..Limits::default()
            },
            false,
        )
        .await?;
        let mut socks = Vec::new();
        for _ in 0..20 {
            let mut sock = connect(&app).await?;
            sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await?;
            socks.push(sock);
        }
        for sock in &mut socks {
            // Well before actix-web's own default of 5 s.
            let answer = read_to_close(sock, Duration::from_secs(3)).await?;
            assert!(
                answer.is_empty() || status_of(&answer) == Some(408),
                "{answer}"
            );
        }
        app.stop().await;
        Ok(())
    }

    /// A kept-alive connection's next request head has the same deadline as its first: a client
    /// that sends one request, then a byte of the next and nothing more, is closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_request_head_on_a_connection_has_a_deadline() -> TestResult {
        let app = app(
            Limits {
                head_timeout: Duration::from_millis(500),
                ..Limits::default()
            },
            false,
        )
        .await?;
        let mut sock = connect(&app).await?;
        sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let first = read_first_answer(&mut sock, Duration::from_secs(5)).await?;
        assert_eq!(status_of(&first), Some(200), "{first}");
        sock.write_all(b"G").await?;
        read_to_close(&mut sock, Duration::from_secs(8)).await?;
        app.stop().await;
        Ok(())
    }

    /// Past `MAX_CONNECTIONS` the server accepts no more until one closes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_past_the_cap_wait_until_one_closes() -> TestResult {
        let app = app(
            Limits {
                // One per HTTP worker thread (the test app has two).
                max_connections: 2,
                head_timeout: Duration::from_secs(60),
                ..Limits::default()
            },
            false,
        )
        .await?;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut sock = connect(&app).await?;
            sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await?;
            held.push(sock);
        }
        // Let both be accepted and counted.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut third = connect(&app).await?;
        third
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        assert!(
            read_first_answer(&mut third, Duration::from_millis(1_500))
                .await
                .is_err(),
            "a third connection is served while two are held"
        );
        drop(held);
        let answer = read_to_close(&mut third, Duration::from_secs(10)).await?;
        assert_eq!(status_of(&answer), Some(200), "{answer}");
        app.stop().await;
        Ok(())
    }

    /// A user may hold `MAX_STREAMS_PER_USER` event streams and waits at once; past it, and past
    /// the process's `MAX_STREAMS`, a 429 problem with `Retry-After`; a closed stream gives its
    /// place back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn event_streams_and_waits_are_capped_per_user_and_per_process() -> TestResult {
        let app = app(
            Limits {
                held_per_user: 2,
                held_per_process: 3,
                ..Limits::default()
            },
            false,
        )
        .await?;
        let plan = app.create_plan("alice", "Rust ownership").await?;
        let events = format!("/api/v1/plans/{plan}/events");
        let first = app.events(&events, "alice", None).await?;
        let _second = app.events(&events, "alice", None).await?;
        let refused = tokio::time::timeout(Duration::from_secs(20), app.get(&events, "alice"))
            .await
            .map_err(|_| "a third stream was served")??;
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.body["code"], "RATE_LIMITED");
        assert!(refused.header("retry-after").is_some());
        let wait = tokio::time::timeout(
            Duration::from_secs(20),
            app.send(
                "GET",
                &format!("/api/v1/plans/{plan}"),
                Some("alice"),
                None,
                &[("prefer", "wait=30")],
            ),
        )
        .await
        .map_err(|_| "a third hold was served")??;
        assert_eq!(wait.status, 429, "a wait counts too: {}", wait.body);

        // Bob has his own budget, up to the process's.
        let bobs = app.create_plan("bob", "Go channels").await?;
        let bob_events = format!("/api/v1/plans/{bobs}/events");
        let _bob = app.events(&bob_events, "bob", None).await?;
        let full = tokio::time::timeout(Duration::from_secs(20), app.get(&bob_events, "bob"))
            .await
            .map_err(|_| "a fourth stream was served")??;
        assert_eq!(full.status, 429, "the process holds 3: {}", full.body);

        // A stream the client closes gives its place back.
        drop(first);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match app.events(&bob_events, "bob", None).await {
                Ok(_) => break,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("the place never came back: {e}").into()),
            }
        }
        app.stop().await;
        Ok(())
    }
}
