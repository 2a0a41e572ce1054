//! Logs: the global tracing subscriber (JSON lines or a readable form, on stderr) and a panic
//! hook that logs where a panic happened, never its message.

/// `LOG_FORMAT`: `json` (default) or `pretty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, the event's fields flattened, with its current span.
    Json,
    /// Multi-line, for a person at a terminal.
    Pretty,
}

/// Installs the global tracing subscriber; the level comes from `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
    // A panic's message can quote the data being handled (a slicing panic quotes its string),
    // and the model's output stays out of logs (SPEC section 2): log where, never what.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic.location = %location, "panic (message withheld)");
    }));
}
