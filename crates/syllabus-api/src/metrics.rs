//! Prometheus metrics: requests and their latencies (recorded by the request middleware), queue
//! depth by type and status, the age of the oldest ready job, attempts by class and the provider
//! calls' counters (calls, tokens, cost by provider, model and job type; read from the
//! database, so every instance reports the shared queue; sampled at most once per
//! [`QUEUE_SAMPLE_EVERY`] per process, so scrapes cost the database nothing in between).

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use syllabus_domain::usage::nanos_to_units;
use syllabus_domain::{FailureClass, JobStatus, JobType};
use syllabus_store::records::{QueueStats, RunTimes, UsageCounter, UsageTotals};

/// How long one reading of the queue figures serves `/metrics` in a process: the aggregates
/// behind them grow with the jobs stored, so scrapes (from any number of scrapers) read the
/// database at most this often.
pub const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(15);

type Labels = Vec<(&'static str, String)>;

/// A value read at most once per `every`: concurrent readers of a stale value wait for one
/// reload and share it. A failed load keeps nothing (the next reader tries again).
pub struct Sampled<T> {
    every: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Sampled<T> {
    /// Empty; the first [`Sampled::get`] loads.
    #[must_use]
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The value as of `now` (the caller's clock, taken before it waits): the held one when it
    /// was loaded less than `every` before, else a fresh one from `load`.
    ///
    /// # Errors
    /// Whatever `load` returns.
    pub async fn get<E>(
        &self,
        now: Instant,
        load: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && now.saturating_duration_since(*at) < self.every
        {
            return Ok(value.clone());
        }
        let value = load().await?;
        *slot = Some((now, value.clone()));
        Ok(value)
    }
}
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~4 s.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 14))
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: HistogramFamily,
    jobs: Family<Labels, Gauge>,
    oldest_ready: Gauge<f64, AtomicU64>,
    attempts: Family<Labels, Gauge>,
    reservations: Family<Labels, Gauge>,
    window_requests: Family<Labels, Gauge>,
    window_tokens: Family<Labels, Gauge>,
    paused_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    paused: Family<Labels, Gauge>,
    /// The circuit breaker's phase per provider (issue #22 item 3).
    breaker: Family<Labels, Gauge>,
    /// Times each provider's breaker opened.
    failovers: Family<Labels, Gauge>,
    /// Stored webhook delivery attempts by outcome (issue #23).
    webhooks: Family<Labels, Gauge>,
    /// The queue figures of the last reading.
    pub(crate) queue: Sampled<(QueueStats, RunTimes)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("syllabus");
        let requests = Family::<Labels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let jobs = Family::<Labels, Gauge>::default();
        let oldest_ready = Gauge::<f64, AtomicU64>::default();
        let attempts = Family::<Labels, Gauge>::default();
        let reservations = Family::<Labels, Gauge>::default();
        let window_requests = Family::<Labels, Gauge>::default();
        let window_tokens = Family::<Labels, Gauge>::default();
        let paused_seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let paused = Family::<Labels, Gauge>::default();
        let breaker = Family::<Labels, Gauge>::default();
        let failovers = Family::<Labels, Gauge>::default();
        let webhooks = Family::<Labels, Gauge>::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts stored (until retention), by outcome",
            webhooks.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register("jobs", "Jobs by type and status", jobs.clone());
        registry.register(
            "jobs_oldest_ready_age_seconds",
            "Age of the oldest pending job that is due",
            oldest_ready.clone(),
        );
        registry.register(
            "generation_attempts",
            "Generation attempts by outcome class",
            attempts.clone(),
        );
        registry.register(
            "provider_reservations",
            "Provider call reservations by provider and outcome (granted, refused), all processes",
            reservations.clone(),
        );
        registry.register(
            "provider_window_requests",
            "Provider calls reserved in the last 60 s",
            window_requests.clone(),
        );
        registry.register(
            "provider_window_tokens",
            "Provider tokens reserved (corrected to the reported usage) in the last 60 s",
            window_tokens.clone(),
        );
        registry.register(
            "provider_paused_seconds",
            "Seconds the provider was paused by its 429s, in all",
            paused_seconds.clone(),
        );
        registry.register(
            "provider_paused",
            "1 while a 429 pauses the provider's calls",
            paused.clone(),
        );
        registry.register(
            "provider_breaker_state",
            "The provider's circuit breaker: 0 healthy, 1 degraded, 2 failover (calls go to the fallback), 3 recovery (one probe calls the provider)",
            breaker.clone(),
        );
        registry.register(
            "provider_breaker_failovers",
            "Times the provider's circuit breaker opened, in all",
            failovers.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            jobs,
            oldest_ready,
            attempts,
            reservations,
            window_requests,
            window_tokens,
            paused_seconds,
            paused,
            breaker,
            failovers,
            webhooks,
            queue: Sampled::new(QUEUE_SAMPLE_EVERY),
        }
    }
}

/// The label of an HTTP method: the standard methods as they are, anything else `other`.
fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

impl Metrics {
    /// Records one finished request. `route` must be a matched pattern or `unmatched`; a method
    /// outside the standard ones is labelled `other`, so a client cannot grow the label set.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = known_method(method);
        let labels = vec![
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        self.requests.get_or_create(&labels).inc();
        let route_labels = vec![("method", method.to_owned()), ("route", route.to_owned())];
        self.latency
            .get_or_create(&route_labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with queue figures from `stats` and job run times from `runs`.
    #[must_use]
    pub fn render(&self, stats: &QueueStats, runs: &RunTimes) -> String {
        self.jobs.clear();
        for t in JobType::ALL {
            for s in JobStatus::ALL {
                let n = stats
                    .jobs
                    .iter()
                    .find(|(jt, js, _)| jt == t && js == s)
                    .map_or(0, |(_, _, n)| *n);
                self.jobs
                    .get_or_create(&vec![
                        ("type", t.as_str().to_owned()),
                        ("status", s.as_str().to_owned()),
                    ])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        self.oldest_ready.set(stats.oldest_ready_age_seconds);
        for outcome in syllabus_domain::webhooks::DeliveryOutcome::ALL {
            let n = stats.webhook_attempts.iter().find(|(o, _)| o == outcome);
            self.webhooks
                .get_or_create(&vec![("outcome", outcome.as_str().to_owned())])
                .set(n.map_or(0, |(_, n)| i64::try_from(*n).unwrap_or(i64::MAX)));
        }
        self.attempts.clear();
        for (class, n) in &stats.attempts {
            let class = class.map_or("success", FailureClass::as_str);
            self.attempts
                .get_or_create(&vec![("class", class.to_owned())])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        self.render_providers(stats);
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        // Run times come bucketed from the database (every instance reports the shared queue),
        // so the histogram is written here rather than observed in this process.
        let mut histogram = run_time_histogram(runs);
        // So are the provider calls' counters (issue #22).
        histogram.push_str(&usage_counters(&stats.usage));
        match out.rfind("# EOF") {
            Some(at) => out.insert_str(at, &histogram),
            None => out.push_str(&histogram),
        }
        out
    }
}

/// A counter family of the ledger: its name, help and value of one series' sums.
type Series = (&'static str, &'static str, fn(&UsageTotals) -> String);

/// A label value with `\`, `"` and newlines escaped, as the exposition format asks.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The ledger's counters (issue #22): calls by provider, model, job type and class; prompt and
/// completion tokens and cost (currency units, priced calls only) by provider, model and job
/// type. Read from the database (raw calls and daily aggregates together), so every instance
/// reports every process's calls and a retention pass never lowers them.
fn usage_counters(usage: &[UsageCounter]) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let mut out = String::from(
        "# HELP syllabus_llm_calls Provider calls by provider, model, job type and class (success or the failure class).\n# TYPE syllabus_llm_calls counter\n",
    );
    let mut per_model: BTreeMap<(String, String, &'static str), UsageTotals> = BTreeMap::new();
    for u in usage {
        let (provider, model) = (label(&u.provider), label(&u.model));
        let class = u.class.map_or("success", FailureClass::as_str);
        let _ = writeln!(
            out,
            "syllabus_llm_calls_total{{provider=\"{provider}\",model=\"{model}\",job_type=\"{}\",class=\"{class}\"}} {}",
            u.job_type.as_str(),
            u.totals.calls
        );
        per_model
            .entry((provider, model, u.job_type.as_str()))
            .or_default()
            .add(&u.totals);
    }
    let series: [Series; 3] = [
        ("prompt_tokens", "Prompt tokens reported", |t| {
            t.prompt_tokens.to_string()
        }),
        ("completion_tokens", "Completion tokens reported", |t| {
            t.completion_tokens.to_string()
        }),
        (
            "cost",
            "Cost of the priced calls, in LLM_PRICE_CURRENCY units",
            |t| nanos_to_units(t.cost_nanos).to_string(),
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(
            out,
            "# HELP syllabus_llm_{name} {help}, by provider, model and job type.\n# TYPE syllabus_llm_{name} counter"
        );
        for ((provider, model, job_type), t) in &per_model {
            let _ = writeln!(
                out,
                "syllabus_llm_{name}_total{{provider=\"{provider}\",model=\"{model}\",job_type=\"{job_type}\"}} {}",
                value(t)
            );
        }
    }
    out
}

impl Metrics {
    /// The shared provider limits' figures (issue #22), one series per provider key.
    fn render_providers(&self, stats: &QueueStats) {
        self.reservations.clear();
        self.window_requests.clear();
        self.window_tokens.clear();
        self.paused_seconds.clear();
        self.paused.clear();
        self.breaker.clear();
        self.failovers.clear();
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        for p in &stats.providers {
            let provider = || vec![("provider", p.provider.clone())];
            for (outcome, n) in [("granted", p.granted), ("refused", p.refused)] {
                let mut labels = provider();
                labels.push(("outcome", outcome.to_owned()));
                self.reservations.get_or_create(&labels).set(gauge(n));
            }
            self.window_requests
                .get_or_create(&provider())
                .set(gauge(p.window_requests));
            self.window_tokens
                .get_or_create(&provider())
                .set(gauge(p.window_tokens));
            #[expect(
                clippy::cast_precision_loss,
                reason = "milliseconds paused stay far below 2^53"
            )]
            let seconds = p.paused_ms as f64 / 1_000.0;
            self.paused_seconds.get_or_create(&provider()).set(seconds);
            self.paused
                .get_or_create(&provider())
                .set(i64::from(p.paused));
            self.breaker
                .get_or_create(&provider())
                .set(p.breaker.gauge());
            self.failovers
                .get_or_create(&provider())
                .set(gauge(p.failovers));
        }
    }
}

fn run_time_histogram(runs: &RunTimes) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# HELP syllabus_job_run_seconds Run time of finished jobs still stored, first start to end.\n# TYPE syllabus_job_run_seconds histogram\n",
    );
    for (t, counts, total, sum) in &runs.by_type {
        let t = t.as_str();
        for (bound, count) in runs.bounds.iter().zip(counts) {
            let _ = writeln!(
                out,
                "syllabus_job_run_seconds_bucket{{type=\"{t}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "syllabus_job_run_seconds_bucket{{type=\"{t}\",le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(out, "syllabus_job_run_seconds_sum{{type=\"{t}\"}} {sum}");
        let _ = writeln!(
            out,
            "syllabus_job_run_seconds_count{{type=\"{t}\"}} {total}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn queue_figures_are_read_once_per_interval() {
        let sampled = Sampled::new(Duration::from_secs(15));
        let loads = AtomicUsize::new(0);
        let load = async || -> Result<usize, ()> { Ok(loads.fetch_add(1, Ordering::SeqCst) + 1) };
        let start = Instant::now();
        for _ in 0..50 {
            assert_eq!(
                sampled.get(start, load).await,
                Ok(1),
                "held within the interval"
            );
        }
        let later = start + Duration::from_secs(60);
        assert_eq!(sampled.get(later, load).await, Ok(2), "reloaded once stale");
        assert_eq!(sampled.get(later, load).await, Ok(2));
        assert_eq!(loads.load(Ordering::SeqCst), 2);

        let failing = Sampled::<usize>::new(Duration::from_secs(15));
        assert_eq!(failing.get(start, async || Err("down")).await, Err("down"));
        assert_eq!(
            failing.get(start, async || Ok::<_, &str>(7)).await,
            Ok(7),
            "a failure is not held"
        );
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::default();
        for i in 0..200 {
            metrics.observe_request(&format!("X{i}"), "unmatched", 404, Duration::from_millis(1));
        }
        metrics.observe_request("GET", "/healthz", 200, Duration::from_millis(1));
        let text = metrics.render(&QueueStats::default(), &RunTimes::default());
        let series = text
            .lines()
            .filter(|l| l.starts_with("syllabus_http_requests_total{"))
            .count();
        assert_eq!(series, 2, "{text}");
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(!text.contains("X17"), "{text}");
    }

    #[test]
    fn provider_figures_are_one_series_per_provider() {
        let metrics = Metrics::default();
        let stats = QueueStats {
            providers: vec![syllabus_store::records::ProviderStats {
                provider: "http://127.0.0.1:9/v1 m".to_owned(),
                granted: 7,
                refused: 3,
                window_requests: 2,
                window_tokens: 1_200,
                paused_ms: 2_500,
                paused: true,
                breaker: syllabus_domain::breaker::Phase::Recovery,
                failovers: 4,
            }],
            ..QueueStats::default()
        };
        let text = metrics.render(&stats, &RunTimes::default());
        for line in [
            "syllabus_provider_reservations{provider=\"http://127.0.0.1:9/v1 m\",outcome=\"granted\"} 7",
            "syllabus_provider_reservations{provider=\"http://127.0.0.1:9/v1 m\",outcome=\"refused\"} 3",
            "syllabus_provider_window_requests{provider=\"http://127.0.0.1:9/v1 m\"} 2",
            "syllabus_provider_window_tokens{provider=\"http://127.0.0.1:9/v1 m\"} 1200",
            "syllabus_provider_paused_seconds{provider=\"http://127.0.0.1:9/v1 m\"} 2.5",
            "syllabus_provider_paused{provider=\"http://127.0.0.1:9/v1 m\"} 1",
            "syllabus_provider_breaker_state{provider=\"http://127.0.0.1:9/v1 m\"} 3",
            "syllabus_provider_breaker_failovers{provider=\"http://127.0.0.1:9/v1 m\"} 4",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
