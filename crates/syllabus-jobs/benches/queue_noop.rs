//! The queue's own cost per job: the real [`Runtime`] (batch claims, leases, the batched
//! heartbeat, NOTIFY wake-ups, fenced finishes) around a handler that does nothing but end the
//! run. Driven by `scripts/bench-queue.sh`, which inserts the due jobs with SQL first; this
//! binary works them until `BENCH_JOBS` runs have ended and prints jobs/s and µs of its own CPU
//! per job. It applies the migrations first (`BENCH_JOBS=0`: only that). Settings:
//! `DATABASE_URL`, `BENCH_JOBS` (default 10,000), `WORKER_CONCURRENCY` (default 8),
//! `BENCH_CLK_TCK` (`getconf CLK_TCK`, default 100), `BENCH_DEADLINE_S` (default 300: when the
//! runs have not all ended by then, it prints the jobs table's counts by status and fails),
//! `BENCH_PICKUP=1` (the driver inserts the jobs one at a time while this binary runs: it also
//! prints the pick-up latency, the job row's `created_at` → the handler's start, p50/p95/p99/max,
//! as `scripts/bench-peer.sh` compares it with apalis-postgres's).
//!
//! Run by `cargo bench` only (`harness = false`): built by `cargo test --all-targets` or clippy,
//! it exits at once.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use syllabus_domain::JobStatus;
use syllabus_jobs::{Context, Dispatch, Runtime, RuntimeConfig, Shutdown};
use syllabus_provider::{OpenAiProvider, ProviderConfig};
use syllabus_store::records::{ClaimedJob, JobEnd};
use syllabus_store::{Database, JobEvents, JobStore, PoolOptions, StoreError};
use tokio::sync::Notify;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How many runs have ended, and a wake-up when all have.
struct Progress {
    ended: AtomicUsize,
    target: usize,
    all_ended: Notify,
    /// Each run's pick-up latency (job created → handler start), in µs.
    pickups: Mutex<Vec<i64>>,
}

/// Ends every run as completed, with nothing else written; counts them.
struct Noop(Arc<Progress>);

impl<P: Send + Sync + 'static> Dispatch<Database, P> for Noop {
    async fn run(
        &self,
        ctx: &Context<Database, P>,
        job: &ClaimedJob,
    ) -> Result<JobStatus, StoreError> {
        let picked = (chrono::Utc::now() - job.created_at)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        self.0
            .pickups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(picked);
        // Through the context, as the real handlers end their runs: a heartbeat that finds the
        // lease gone while this write commits does not cancel the run (issue #18).
        ctx.end_run(job, JobEnd::Completed { result: json!({}) })
            .await?;
        if self.0.ended.fetch_add(1, Ordering::SeqCst) + 1 == self.0.target {
            self.0.all_ended.notify_one();
        }
        Ok(JobStatus::Completed)
    }
}

/// CPU seconds this process has used (all threads).
fn cpu_seconds(ticks_per_second: f64) -> Result<f64, Error> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(") ")
        .ok_or("unreadable /proc/self/stat")?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .ok_or("short /proc/self/stat")?
        .iter()
        .map(|f| f.parse::<f64>())
        .sum::<Result<f64, _>>()?;
    Ok(ticks / ticks_per_second)
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> Result<T, Error> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} is invalid: {v:?}").into()),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs benches without it.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let jobs: usize = setting("BENCH_JOBS", 10_000)?;
    let concurrency: usize = setting("WORKER_CONCURRENCY", 8)?;
    let ticks: f64 = setting("BENCH_CLK_TCK", 100.0)?;
    let deadline = Duration::from_secs(setting("BENCH_DEADLINE_S", 300)?);
    let pickup: u8 = setting("BENCH_PICKUP", 0)?;

    syllabus_store::run_migrations(&url).await?;
    if jobs == 0 {
        return Ok(()); // the driver's set-up: migrations only
    }
    let db = Database::connect(&url, PoolOptions::default())?;
    db.ping().await?;
    let events = JobEvents::start(&url, Duration::from_secs(5)).await;
    // Never called: the no-op handler does not reach the provider.
    let provider = OpenAiProvider::new(ProviderConfig {
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key: Some("unused".into()),
        ..ProviderConfig::default()
    })?;
    let progress = Arc::new(Progress {
        ended: AtomicUsize::new(0),
        target: jobs,
        all_ended: Notify::new(),
        pickups: Mutex::new(Vec::with_capacity(jobs)),
    });
    let runtime = Runtime::new(
        db.clone(),
        Arc::new(provider),
        events,
        RuntimeConfig {
            concurrency,
            worker_id: "bench-noop".into(),
            ..RuntimeConfig::default()
        },
    )
    .with_dispatch(Noop(Arc::clone(&progress)));

    let (shutdown, stop) = Shutdown::new();
    let cpu0 = cpu_seconds(ticks)?;
    let start = Instant::now();
    let task = tokio::spawn(runtime.run(stop));
    let ended = tokio::time::timeout(deadline, progress.all_ended.notified()).await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(ticks)? - cpu0;
    shutdown.trigger();
    task.await?;
    let n = progress.ended.load(Ordering::SeqCst);
    if ended.is_err() {
        // What the database holds tells a lost count (every job completed) from a stuck queue.
        let mut by_status: Vec<(String, u64)> = Vec::new();
        for (_, status, count) in db.queue_stats().await?.jobs {
            match by_status.iter_mut().find(|(s, _)| s == status.as_str()) {
                Some((_, total)) => *total += count,
                None => by_status.push((status.as_str().to_owned(), count)),
            }
        }
        by_status.sort();
        let table: Vec<String> = by_status.iter().map(|(s, c)| format!("{s} {c}")).collect();
        return Err(format!(
            "only {n} of {jobs} runs ended within {} s; the jobs table holds: {}",
            deadline.as_secs(),
            if table.is_empty() {
                "no jobs".to_owned()
            } else {
                table.join(", ")
            }
        )
        .into());
    }
    #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
    let n = n as f64;
    writeln!(
        std::io::stdout(),
        "queue no-op, WORKER_CONCURRENCY={concurrency}: {n} jobs in {elapsed:.2} s = {:.0} jobs/s; \
         worker CPU {:.0} µs/job",
        n / elapsed,
        cpu * 1e6 / n,
    )?;
    if pickup == 1 {
        let mut v = progress
            .pickups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        v.sort_unstable();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a short vector; latencies far below 2^52 µs"
        )]
        let p = |q: f64| {
            let i = ((q * v.len() as f64) as usize).min(v.len().saturating_sub(1));
            v.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
        };
        writeln!(
            std::io::stdout(),
            "queue no-op pick-up latency over {} jobs, WORKER_CONCURRENCY={concurrency}: \
             p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            v.len(),
            p(0.5),
            p(0.95),
            p(0.99),
            p(1.0)
        )?;
    }
    Ok(())
}
