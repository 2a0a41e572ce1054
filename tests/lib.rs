#![expect(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

//! End-to-end test support: the real API and real workers in-process on a per-test PostgreSQL
//! database, talking to a fake OpenAI-compatible server over real HTTP; and the path of the
//! `syllabus` binary for tests that run it as a process. Every answer the in-process API gives is
//! checked against its OpenAPI document ([`openapi`]).

pub mod openapi;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use syllabus::{Application, AuthConfig, Config, HttpConfig, WorkersConfig};
use syllabus_api::{KeySource, Settings};
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_jobs::RuntimeConfig;
use syllabus_provider::ProviderConfig;
use syllabus_store::records::RateLimit;
use syllabus_store::{Database, JobEvents, PoolOptions};
pub use syllabus_testkit::fake_llm::plan_json;
use syllabus_testkit::{FakeLlm, TestDb};
use tokio::sync::oneshot;

/// Why a test failed to set up.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The HS256 secret of in-process servers.
pub const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e";

/// The path of the `syllabus` binary: `SYLLABUS_BIN` when set (e.g. a release build, or a copy
/// taken while another checkout shares the target directory), else the one next to the running
/// test executable (`target/<profile>/`).
///
/// # Errors
/// When the binary has not been built (`cargo build -p syllabus`, which `scripts/test.sh` runs).
pub fn syllabus_bin() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("SYLLABUS_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("SYLLABUS_BIN={} is not a file", bin.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> → target/<profile>/syllabus
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .ok_or("cannot locate the target directory")?;
    let bin = dir.join(format!("syllabus{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build -p syllabus` (scripts/test.sh does)",
            bin.display()
        ))
    }
}

/// An HS256 token for `sub`, valid for an hour.
#[must_use]
pub fn token(sub: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 3_600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("HS256 signing cannot fail")
}

/// A valid plan request body.
#[must_use]
pub fn plan_body(topic: &str) -> Value {
    json!({
        "topic": topic,
        "skill_level": "beginner",
        "weekly_hours": 5,
        "learning_style": "practice",
    })
}

/// How an in-process app is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run workers.
    pub workers: bool,
    /// Jobs per process.
    pub concurrency: usize,
    /// Backoff base.
    pub backoff_base: Duration,
    /// Stale-rescue threshold.
    pub stale_after: Duration,
    /// Provider base deadline.
    pub timeout: Duration,
    /// Provider extended deadline.
    pub extended_timeout: Duration,
    /// Rate limit per user and type.
    pub rate_limit: u32,
    /// Keep-alive interval of event streams.
    pub sse_keepalive: Duration,
    /// Development sign-in (`DEV_SIGN_IN`): `POST /api/v1/session/dev` mints tokens.
    pub dev_sign_in: bool,
    /// Connections, deadlines, streams and waits per client.
    pub limits: syllabus_api::Limits,
    /// The API's pool.
    pub pool: PoolOptions,
    /// `LLM_PRICES` (issue #22).
    pub prices: syllabus_domain::usage::PriceTable,
    /// `USER_MONTHLY_TOKEN_BUDGET` (issue #22).
    pub monthly_token_budget: Option<u64>,
    /// The provider's shared limits (issue #22).
    pub provider_limits: ProviderLimits,
    /// Call this provider instead of the app's own fake (a second process sharing the first's).
    pub provider_url: Option<String>,
    /// The fallback provider's base URL and model (issue #22 item 3), if any.
    pub fallback: Option<(String, String)>,
    /// The primary's circuit breaker.
    pub breaker: syllabus_domain::breaker::BreakerSettings,
    /// Webhook deliveries (issue #23): loopback receivers allowed (every e2e receiver is on
    /// 127.0.0.1), short gaps and window.
    pub webhooks: syllabus_domain::webhooks::DeliverySettings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: true,
            concurrency: 4,
            backoff_base: Duration::from_millis(50),
            stale_after: Duration::from_secs(300),
            timeout: Duration::from_secs(3),
            extended_timeout: Duration::from_secs(6),
            rate_limit: 1_000,
            sse_keepalive: syllabus_api::SSE_KEEPALIVE,
            dev_sign_in: false,
            limits: syllabus_api::Limits::default(),
            pool: PoolOptions::default(),
            prices: syllabus_domain::usage::PriceTable::default(),
            monthly_token_budget: None,
            provider_limits: ProviderLimits::default(),
            provider_url: None,
            fallback: None,
            breaker: syllabus_domain::breaker::BreakerSettings::default(),
            webhooks: syllabus_domain::webhooks::DeliverySettings {
                allow_loopback: true,
                timeout: Duration::from_secs(5),
                schedule: syllabus_domain::webhooks::RetrySchedule {
                    base: Duration::from_millis(200),
                    window: Duration::from_secs(60),
                },
            },
        }
    }
}

/// The API and workers running in-process: the [`Application`] `syllabus serve` runs, configured
/// in code.
pub struct App {
    /// The test's database URL (as the application role).
    pub url: String,
    _db: Option<TestDb>,
    /// The fake model.
    pub llm: FakeLlm,
    /// The store, for direct checks.
    pub store: Database,
    /// The process's job events (the API's and the workers'), for counting wake-ups.
    pub events: JobEvents,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
    doc: Value,
    stop: Option<oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// JSON body (`Null` when empty or not JSON).
    pub body: Value,
    /// The body as text (for answers that are not JSON, such as a calendar).
    pub text: String,
}

impl Answer {
    /// A header's value.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl App {
    /// The test database's superuser URL (for locks and checks behind the application's back),
    /// when the app owns its database.
    #[must_use]
    pub fn admin_url(&self) -> Option<&str> {
        self._db.as_ref().map(TestDb::admin_url)
    }

    /// Starts everything with `options`.
    ///
    /// # Errors
    /// When the database, the fake model or the listener cannot be set up.
    pub async fn start(options: Options) -> Result<Self, Error> {
        let db = TestDb::new().await?;
        let url = db.url().to_owned();
        Self::start_on(url, Some(db), options).await
    }

    /// Starts everything on an already migrated database at `url`.
    ///
    /// # Errors
    /// As [`App::start`].
    pub async fn start_on(
        url: String,
        db: Option<TestDb>,
        options: Options,
    ) -> Result<Self, Error> {
        let llm = FakeLlm::start().await?;
        let workers = options.workers.then(|| WorkersConfig {
            provider: ProviderConfig {
                base_url: options
                    .provider_url
                    .clone()
                    .unwrap_or_else(|| llm.base_url()),
                api_key: Some("test-key".into()),
                model: "fake-model".into(),
                timeout: options.timeout,
                extended_timeout: options.extended_timeout,
                ..ProviderConfig::default()
            },
            runtime: RuntimeConfig {
                concurrency: options.concurrency,
                backoff_base: options.backoff_base,
                stale_after: options.stale_after,
                poll_interval: Duration::from_millis(500),
                shutdown_grace: Duration::from_secs(2),
                worker_id: "e2e".into(),
                prices: options.prices.clone(),
                provider_limits: options.provider_limits,
                webhooks: options.webhooks,
                ..RuntimeConfig::default()
            },
            fallback: options
                .fallback
                .clone()
                .map(|(base_url, model)| syllabus::FallbackConfig {
                    provider: ProviderConfig {
                        base_url,
                        api_key: Some("fallback-key".into()),
                        model,
                        timeout: options.timeout,
                        extended_timeout: options.extended_timeout,
                        ..ProviderConfig::default()
                    },
                    limits: ProviderLimits {
                        window: options.provider_limits.window,
                        ..ProviderLimits::default()
                    },
                }),
            breaker: options.breaker,
            ..WorkersConfig::default()
        });
        let config = Config {
            database_url: url.as_str().into(),
            // The test database is cloned from a migrated template.
            run_migrations: false,
            pool: options.pool,
            http: Some(HttpConfig {
                bind_addr: ([127, 0, 0, 1], 0).into(),
                auth: AuthConfig {
                    keys: KeySource::Secret(SECRET.as_bytes().to_vec()),
                    issuer: None,
                    audience: None,
                    dev_sign_in: options.dev_sign_in,
                },
                settings: Settings {
                    rate_limit: RateLimit {
                        limit: options.rate_limit,
                        monthly_token_budget: options.monthly_token_budget,
                        ..Settings::default().rate_limit
                    },
                    sse_keepalive: options.sse_keepalive,
                    limits: options.limits,
                    webhooks_allow_loopback: options.webhooks.allow_loopback,
                    ..Settings::default()
                },
                http_workers: 2,
            }),
            workers,
        };
        let app = Application::build(config).await?;
        let base = format!("http://{}", app.local_addr().ok_or("no HTTP listener")?);
        let (store, events) = (app.store().clone(), app.events().clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            url,
            _db: db,
            llm,
            store,
            events,
            base,
            http: reqwest::Client::new(),
            doc: openapi::document(),
            stop: Some(stop),
            running: Some(running),
        })
    }

    /// Sends a request as `user` (no token when `None`) with an optional JSON body.
    ///
    /// # Errors
    /// Transport errors, or an answer the OpenAPI document does not describe.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, Error> {
        let content_type = body.map(|_| "application/json");
        self.send_bytes(
            method,
            path,
            user,
            body.map(serde_json::to_vec).transpose()?,
            content_type,
            headers,
        )
        .await
    }

    /// Sends raw bytes with an optional content type; the answer is checked like [`App::send`]'s.
    ///
    /// # Errors
    /// As [`App::send`].
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, Error> {
        let method_name = method;
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(u) = user {
            req = req.header("authorization", format!("Bearer {}", token(u)));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        openapi::check(&self.doc, method_name, path, status, &headers, &bytes)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Opens the event stream at `path` as `user` (resuming after `last_event_id` when given).
    /// The head is checked against the OpenAPI document; each event's data is checked against
    /// the schema the document gives its event name.
    ///
    /// # Errors
    /// Transport errors, an answer other than a `200 text/event-stream` the document describes.
    pub async fn events(
        &self,
        path: &str,
        user: &str,
        last_event_id: Option<&str>,
    ) -> Result<EventStream, Error> {
        events_at(
            &self.http,
            &self.base,
            path,
            user,
            last_event_id,
            Some(&self.doc),
        )
        .await
    }

    /// `GET` as `user`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn get(&self, path: &str, user: &str) -> Result<Answer, Error> {
        self.send("GET", path, Some(user), None, &[]).await
    }

    /// `POST` a JSON body as `user`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post(&self, path: &str, user: &str, body: &Value) -> Result<Answer, Error> {
        self.send("POST", path, Some(user), Some(body), &[]).await
    }

    /// Creates a plan and returns its id.
    ///
    /// # Errors
    /// Transport errors or a non-201 answer.
    pub async fn create_plan(&self, user: &str, topic: &str) -> Result<String, Error> {
        let res = self.post("/api/v1/plans", user, &plan_body(topic)).await?;
        if res.status != 201 {
            return Err(format!("create plan: {} {}", res.status, res.body).into());
        }
        Ok(res.body["id"].as_str().ok_or("no id")?.to_owned())
    }

    /// Reads `path` as `user` with `Prefer: wait=5` until `done` holds for the body, for at most
    /// `within`.
    ///
    /// # Errors
    /// Transport errors, or the last body when `done` never held.
    pub async fn wait_until(
        &self,
        path: &str,
        user: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value, Error> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let res = self
                .send("GET", path, Some(user), None, &[("prefer", "wait=5")])
                .await?;
            if done(&res.body) {
                return Ok(res.body);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{path} did not settle: {}", res.body).into());
            }
        }
    }

    /// Waits until the plan is not `pending` any more, for at most `within`.
    ///
    /// # Errors
    /// Transport errors or when it stays pending.
    pub async fn settle(&self, user: &str, plan: &str, within: Duration) -> Result<Value, Error> {
        self.wait_until(&format!("/api/v1/plans/{plan}"), user, within, |b| {
            b["status"] != "pending"
        })
        .await
    }

    /// Stops workers (graceful: running jobs get 2 s, then are released) and the server.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Like [`App::stop`], keeping the database and the fake model for inspection.
    pub async fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// `event:`.
    pub event: String,
    /// `id:`.
    pub id: Option<String>,
    /// `data:`, parsed as JSON.
    pub data: Value,
}

/// An open `text/event-stream` response, read event by event.
pub struct EventStream {
    res: reqwest::Response,
    buf: String,
    ended: bool,
    path: String,
    doc: Option<Value>,
    /// Comment lines (keep-alives) seen so far.
    pub comments: usize,
}

/// Opens an event stream on any server at `base` (the in-process API or a `syllabus serve`
/// process), as `user`; with `doc`, checks the head and every event's data against it.
///
/// # Errors
/// As [`App::events`].
pub async fn events_at(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    user: &str,
    last_event_id: Option<&str>,
    doc: Option<&Value>,
) -> Result<EventStream, Error> {
    let mut req = http
        .get(format!("{base}{path}"))
        .header("authorization", format!("Bearer {}", token(user)))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    if let Some(doc) = doc {
        openapi::check(doc, "GET", path, status, res.headers(), b"")?;
    }
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status != 200 || ct != "text/event-stream" {
        return Err(format!("{path}: {status} {ct}").into());
    }
    Ok(EventStream {
        res,
        buf: String::new(),
        ended: false,
        path: path.to_owned(),
        doc: doc.cloned(),
        comments: 0,
    })
}

impl EventStream {
    /// The next event; `None` when the server ended the stream.
    ///
    /// # Errors
    /// When nothing arrives `within`, a transport error, or data that is not JSON or not what the
    /// document says.
    pub async fn next(&mut self, within: Duration) -> Result<Option<SseEvent>, Error> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..at + 2).collect();
                if let Some(event) = self.parse(&block)? {
                    return Ok(Some(event));
                }
                continue;
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Err(_) => return Err(format!("no event within {within:?}").into()),
                Ok(chunk) => match chunk? {
                    Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes)?),
                    None => self.ended = true,
                },
            }
        }
    }

    /// Every event until the server ends the stream.
    ///
    /// # Errors
    /// As [`EventStream::next`], or when the stream is still open after `within`.
    pub async fn rest(&mut self, within: Duration) -> Result<Vec<SseEvent>, Error> {
        let deadline = tokio::time::Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                Some(e) => events.push(e),
                None => return Ok(events),
            }
        }
    }

    fn parse(&mut self, block: &str) -> Result<Option<SseEvent>, Error> {
        let (mut event, mut id, mut data) = (None, None, None);
        for line in block.lines() {
            if line.starts_with(':') {
                self.comments += 1;
            } else if let Some((field, value)) = line.split_once(": ") {
                match field {
                    "event" => event = Some(value.to_owned()),
                    "id" => id = Some(value.to_owned()),
                    "data" => data = Some(value.to_owned()),
                    _ => {}
                }
            }
        }
        let (Some(event), Some(data)) = (event, data) else {
            return Ok(None); // a comment or the `retry:` hint
        };
        let data: Value = serde_json::from_str(&data)?;
        if let Some(doc) = &self.doc {
            openapi::check_event(doc, &self.path, &event, &data)?;
        }
        Ok(Some(SseEvent { event, id, data }))
    }
}
