//! A fake OpenAI-compatible server on 127.0.0.1 speaking real HTTP/1.1, for tests.
//!
//! Each request to `POST /v1/chat/completions` takes the next scripted [`Reply`] (or, when the
//! script is empty, the [`Responder`]'s reply for it, else the default reply) and is recorded, headers and JSON body, for assertions.
//! Replies cover what real providers do: SSE streams with chosen chunking and delays, ending with
//! `[DONE]`, a plain close, a TCP reset or a stall; error statuses with any body and headers
//! (`Retry-After`); and a stall before any byte.

use std::collections::VecDeque;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `data: [DONE]` then close.
    Done,
    /// Close without `[DONE]`.
    Close,
    /// Reset the connection (RST) mid-stream.
    Reset,
    /// Keep the connection open and send nothing more.
    Stall,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200 text/event-stream`: each event's data is sent after its delay.
    Sse {
        /// `(delay before the event, data line)`.
        events: Vec<(Duration, String)>,
        /// What happens after the last event.
        end: End,
    },
    /// Any status with a body (JSON or not) and extra headers.
    Status {
        /// HTTP status.
        status: u16,
        /// Extra headers, e.g. `("Retry-After", "5")`.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// Read the request, then never answer.
    StallBeforeHeaders,
    /// `200 text/event-stream`: a generated plan streamed module by module on a schedule.
    Paced(PacedPlan),
}

/// A plan of `modules` × `tasks` (as [`plan_json`]) streamed over `over`, evenly: module `i`
/// (from 0) completes `(i + 1) × over / modules` after the headers. Each module is sent in
/// `chunks_per_module` content chunks and its closing brace ends the last one (the `,` before
/// the next module starts the next chunk). The schedule is absolute (from the headers), so a
/// late write does not delay the following ones.
///
/// When the module's last chunk has been written to the socket, a line
/// `EPOCH_MICROSECONDS KEY INDEX` goes to `log`: `KEY` is the first word of the request's
/// messages that starts with `key_prefix` (letters, digits, `-` and `_`), `-` when none does;
/// `INDEX` counts from 0.
#[derive(Debug, Clone)]
pub struct PacedPlan {
    /// Modules in the plan.
    pub modules: usize,
    /// Tasks per module.
    pub tasks: usize,
    /// When the last module completes, from the headers.
    pub over: Duration,
    /// Content chunks per module (at least 1).
    pub chunks_per_module: usize,
    /// What the key identifying a call starts with.
    pub key_prefix: String,
    /// Where module completions are logged.
    pub log: Option<Arc<Mutex<std::fs::File>>>,
}

/// A chat-completion chunk carrying `content`.
#[must_use]
pub fn content_chunk(content: &str) -> String {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
           "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    .to_string()
}

/// The chunk that ends a choice.
#[must_use]
pub fn finish_chunk(reason: &str) -> String {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    .to_string()
}

/// The trailing usage chunk (`stream_options.include_usage`).
#[must_use]
pub fn usage_chunk(prompt: u32, completion: u32) -> String {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
           "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
    .to_string()
}

/// Splits `text` into `pieces` content-chunk events of about equal size (on char boundaries),
/// each sent `delay` after the previous one.
#[must_use]
pub fn content_events(text: &str, pieces: usize, delay: Duration) -> Vec<(Duration, String)> {
    split_chars(text, pieces)
        .iter()
        .map(|c| (delay, content_chunk(c)))
        .collect()
}

/// A generated learning plan of `modules` × `tasks` as a model would write it: modules titled
/// `Module 1…` with `module_minutes` each, tasks `Task m.t` sharing their module's minutes
/// (`module_minutes / tasks` each, so that the domain's minutes rule holds).
#[must_use]
pub fn plan_json(modules: usize, tasks: usize, module_minutes: i64) -> String {
    let modules: Vec<Value> = (1..=modules)
        .map(|m| plan_module(m, tasks, module_minutes))
        .collect();
    json!({ "modules": modules }).to_string()
}

/// A `learning_module` answer (issue #21): a module titled `title` with `tasks` tasks titled
/// `{title}, step t`, sharing `module_minutes` as [`plan_json`]'s do.
#[must_use]
pub fn module_json(title: &str, tasks: usize, module_minutes: i64) -> String {
    let mut module = plan_module(1, tasks, module_minutes);
    module["title"] = json!(title);
    for (t, task) in module["tasks"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        task["title"] = json!(format!("{title}, step {}", t + 1));
    }
    module.to_string()
}

/// Module `m` (from 1) of [`plan_json`].
fn plan_module(m: usize, tasks: usize, module_minutes: i64) -> Value {
    json!({
        "title": format!("Module {m}"),
        "description": null,
        "estimated_minutes": module_minutes,
        "tasks": (1..=tasks).map(|t| json!({
            "title": format!("Task {m}.{t}"),
            "description": "Do it",
            "estimated_minutes": module_minutes / i64::try_from(tasks.max(1)).unwrap_or(1),
        })).collect::<Vec<_>>(),
    })
}

impl Reply {
    /// A well-behaved stream of `text` in `pieces` chunks, `delay` apart, ending with
    /// `finish_reason: stop`, a usage chunk and `[DONE]`.
    #[must_use]
    pub fn stream(text: &str, pieces: usize, delay: Duration) -> Self {
        let mut events = content_events(text, pieces, delay);
        events.push((Duration::ZERO, finish_chunk("stop")));
        events.push((Duration::ZERO, usage_chunk(120, 480)));
        Self::Sse {
            events,
            end: End::Done,
        }
    }

    /// [`Reply::stream`] in one piece whose usage chunk reports `prompt` and `completion`
    /// tokens (issue #22: each call's usage and cost checked exactly).
    #[must_use]
    pub fn stream_with_usage(text: &str, prompt: u32, completion: u32) -> Self {
        let mut events = content_events(text, 1, Duration::ZERO);
        events.push((Duration::ZERO, finish_chunk("stop")));
        events.push((Duration::ZERO, usage_chunk(prompt, completion)));
        Self::Sse {
            events,
            end: End::Done,
        }
    }

    /// A status with a JSON body in OpenAI's error shape.
    #[must_use]
    pub fn openai_error(status: u16, message: &str) -> Self {
        Self::Status {
            status,
            headers: Vec::new(),
            body:
                json!({"error": {"message": message, "type": "error", "param": null, "code": null}})
                    .to_string(),
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Lower-cased header names with their values.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::Null` if it was not JSON).
    pub body: Value,
    /// When the whole request had been read.
    pub at: std::time::Instant,
}

impl Recorded {
    /// A header's value.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Chooses the reply for a request the script does not answer (`None`: the default reply).
pub type Responder = Arc<dyn Fn(&Recorded) -> Option<Reply> + Send + Sync>;

struct State {
    script: VecDeque<Reply>,
    responder: Option<Responder>,
    default: Option<Reply>,
    requests: Vec<Recorded>,
    record: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("script", &self.script)
            .field("responder", &self.responder.is_some())
            .field("default", &self.default)
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

impl Default for State {
    fn default() -> Self {
        Self {
            script: VecDeque::new(),
            responder: None,
            default: None,
            requests: Vec::new(),
            record: true,
        }
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct FakeLlm {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FakeLlm {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        // A deep backlog: a benchmark opens thousands of connections at once.
        let listener: TcpListener = socket.listen(4_096)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((socket, _)) => {
                        tokio::spawn(serve(socket, Arc::clone(&shared)));
                    }
                    // Out of file descriptors or an aborted connection: keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The base URL to configure (`http://127.0.0.1:PORT/v1`).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues a reply for the next request.
    pub fn push(&self, reply: Reply) {
        if let Ok(mut s) = self.state.lock() {
            s.script.push_back(reply);
        }
    }

    /// The reply used when the script is empty.
    pub fn set_default(&self, reply: Reply) {
        if let Ok(mut s) = self.state.lock() {
            s.default = Some(reply);
        }
    }

    /// Answers the requests the script does not by what they ask (e.g. the schema they name).
    pub fn set_responder(&self, responder: Responder) {
        if let Ok(mut s) = self.state.lock() {
            s.responder = Some(responder);
        }
    }

    /// The JSON schema a request names in `response_format` (`learning_plan`, `flashcards`, …).
    #[must_use]
    pub fn schema_name(request: &Recorded) -> Option<&str> {
        request.body["response_format"]["json_schema"]["name"].as_str()
    }

    /// Whether requests are recorded (they are by default); a long benchmark turns it off.
    pub fn set_recording(&self, record: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.record = record;
        }
    }

    /// Requests received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A base URL where nothing listens: connections are refused.
///
/// # Errors
/// When no port can be bound.
pub fn refused_base_url() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}/v1"))
}

async fn read_request(socket: &mut TcpStream) -> std::io::Result<Recorded> {
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let body =
        serde_json::from_slice(buf.get(head_end..).unwrap_or_default()).unwrap_or(Value::Null);
    Ok(Recorded {
        headers,
        body,
        at: std::time::Instant::now(),
    })
}

/// The first word of the messages' contents that starts with `prefix`.
fn find_key(body: &Value, prefix: &str) -> Option<String> {
    let messages = body.get("messages")?.as_array()?;
    messages
        .iter()
        .filter_map(|m| m.get("content")?.as_str())
        .find_map(|content| {
            let start = content.find(prefix)?;
            let rest = content.get(start..)?;
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(rest.len());
            rest.get(..end).map(str::to_owned)
        })
}

/// Splits `text` into `pieces` parts of about equal size on char boundaries.
fn split_chars(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(pieces.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

async fn serve_paced(mut socket: TcpStream, plan: &PacedPlan, key: &str) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let start = tokio::time::Instant::now();
    let modules: Vec<Value> = (1..=plan.modules)
        .map(|m| plan_module(m, plan.tasks, 90))
        .collect();
    let modules_count = u32::try_from(modules.len()).unwrap_or(u32::MAX).max(1);
    for (index, module) in modules.iter().enumerate() {
        let opening = if index == 0 { "{\"modules\":[" } else { "," };
        let pieces = split_chars(&format!("{opening}{module}"), plan.chunks_per_module);
        let count = u32::try_from(pieces.len()).unwrap_or(u32::MAX).max(1);
        let done = u32::try_from(index).unwrap_or(u32::MAX);
        for (piece, n) in pieces.iter().zip(1..) {
            // (index + n / count) / modules of the way through.
            let due = plan.over / modules_count * done + plan.over / modules_count / count * n;
            tokio::time::sleep_until(start + due).await;
            if socket
                .write_all(format!("data: {}\n\n", content_chunk(piece)).as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        if let Some(log) = &plan.log {
            let micros = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            let line = format!("{micros} {key} {index}\n");
            if let Ok(mut file) = log.lock() {
                let _ = file.write_all(line.as_bytes());
            }
        }
    }
    for data in [
        content_chunk("]}"),
        finish_chunk("stop"),
        usage_chunk(120, 480),
    ] {
        if socket
            .write_all(format!("data: {data}\n\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = socket.write_all(b"data: [DONE]\n\n").await;
    let _ = socket.shutdown().await;
}

async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    let Ok(request) = read_request(&mut socket).await else {
        return;
    };
    let (reply, key) = {
        let Ok(mut s) = state.lock() else { return };
        let reply = s
            .script
            .pop_front()
            .or_else(|| s.responder.as_ref().and_then(|r| r(&request)))
            .or_else(|| s.default.clone());
        let key = match &reply {
            Some(Reply::Paced(plan)) => find_key(&request.body, &plan.key_prefix),
            _ => None,
        };
        if s.record {
            s.requests.push(request);
        }
        (reply, key)
    };
    let Some(reply) = reply else {
        let _ = socket.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return;
    };
    match reply {
        Reply::Paced(plan) => serve_paced(socket, &plan, key.as_deref().unwrap_or("-")).await,
        Reply::StallBeforeHeaders => tokio::time::sleep(Duration::from_secs(3_600)).await,
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Status\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
        Reply::Sse { events, end } => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for (delay, data) in events {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if socket
                    .write_all(format!("data: {data}\n\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = socket.flush().await;
            }
            match end {
                End::Done => {
                    let _ = socket.write_all(b"data: [DONE]\n\n").await;
                    let _ = socket.shutdown().await;
                }
                End::Close => {
                    let _ = socket.shutdown().await;
                }
                End::Reset => {
                    // SO_LINGER 0: closing sends RST instead of FIN.
                    let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
                    drop(socket);
                }
                End::Stall => tokio::time::sleep(Duration::from_secs(3_600)).await,
            }
        }
    }
}
