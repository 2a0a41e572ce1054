//! The peer of Syllabus's queue benchmarks (issue #22): apalis-postgres 1.0 with its default
//! config, one worker, LISTEN/NOTIFY wake-up (`with_pubsub`), and a handler that does nothing.
//! Driven by `scripts/bench-peer.sh` on the same throwaway PostgreSQL as `scripts/bench-queue.sh`.
//!
//! - `BENCH_MODE=burn`: `BENCH_JOBS` (default 10,000) due tasks pushed at once (before the
//!   worker starts), then the worker started; prints jobs/s from its start until every task is
//!   `Done` in the database (apalis acknowledges in batches, after the handler).
//! - `BENCH_MODE=pickup`: `BENCH_PICKUPS` (default 1,000) tasks pushed one at a time,
//!   `BENCH_GAP_MS` (default 10) apart, into the idle worker's queue; each carries the wall-clock
//!   time just before its push, and the handler's first line reads the clock: pick-up latency
//!   (enqueue → handler start) p50/p95/p99/max.
//!
//! `DATABASE_URL` names the database (apalis's own schema `apalis` is created there).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::prelude::{BoxDynError, TaskSink, WorkerBuilder, WorkerContext};
use apalis_postgres::{PgPool, PostgresStorage};
use futures::StreamExt as _;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Handler runs so far, and the burn-down's target (the worker stops there).
static RUNS: AtomicUsize = AtomicUsize::new(0);
static TARGET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Pick-up latencies in µs.
static LATENCIES: OnceLock<Mutex<Vec<u64>>> = OnceLock::new();

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The no-op handler: the task's argument is its enqueue time (µs since the epoch).
async fn noop(enqueued_us: u64, worker: WorkerContext) -> Result<(), BoxDynError> {
    let latency = now_us().saturating_sub(enqueued_us);
    if let Some(l) = LATENCIES.get() {
        l.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(latency);
    }
    if RUNS.fetch_add(1, Ordering::SeqCst) + 1 == TARGET.load(Ordering::SeqCst) {
        worker.stop()?;
    }
    Ok(())
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> Result<T, Error> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} is invalid: {v:?}").into()),
        Err(_) => Ok(default),
    }
}

async fn done(pool: &PgPool) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status = 'Done'")
            .fetch_one(pool)
            .await?,
    )
}

fn write(line: &str) -> Result<(), Error> {
    use std::io::Write as _;
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let mode: String = setting("BENCH_MODE", "burn".to_owned())?;
    let pool = PgPool::connect(&url).await?;
    PostgresStorage::setup(&pool).await?;
    sqlx::query("DELETE FROM apalis.jobs")
        .execute(&pool)
        .await?;
    // Default config: the queue named after the argument type, batch size 10.
    let mut backend = PostgresStorage::<u64>::new(&pool);
    let worker_backend = backend.clone().with_pubsub();
    let worker = WorkerBuilder::new("bench-peer")
        .backend(worker_backend)
        .build(noop);

    match mode.as_str() {
        "burn" => {
            let jobs: usize = setting("BENCH_JOBS", 10_000)?;
            let now = now_us();
            backend
                .push_stream(&mut futures::stream::iter(vec![now; jobs]))
                .await?;
            sqlx::query("VACUUM (ANALYZE) apalis.jobs")
                .execute(&pool)
                .await?;
            TARGET.store(jobs, Ordering::SeqCst);
            let start = Instant::now();
            worker.run().await?;
            let ran = start.elapsed().as_secs_f64();
            // Acknowledgements are written in batches after the handlers: the burn-down ends
            // when the database says every task is done.
            let deadline = Instant::now() + Duration::from_secs(60);
            let expected = i64::try_from(jobs)?;
            while done(&pool).await? < expected {
                if Instant::now() > deadline {
                    return Err(format!("only {} of {jobs} tasks done", done(&pool).await?).into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let elapsed = start.elapsed().as_secs_f64();
            #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
            let n = jobs as f64;
            write(&format!(
                "apalis-postgres burn-down: {jobs} jobs done in {elapsed:.2} s = {:.0} jobs/s \
                 (handlers all ran after {ran:.2} s)",
                n / elapsed
            ))?;
        }
        "pickup" => {
            let pickups: usize = setting("BENCH_PICKUPS", 1_000)?;
            let gap = Duration::from_millis(setting("BENCH_GAP_MS", 10)?);
            LATENCIES.get_or_init(|| Mutex::new(Vec::with_capacity(pickups)));
            TARGET.store(pickups, Ordering::SeqCst);
            let run = tokio::spawn(worker.run());
            // The worker's LISTEN is in place well before the first push (3 s: on a loaded
            // machine 1 s was not always enough, and pushes before it wait for a poll).
            tokio::time::sleep(Duration::from_secs(3)).await;
            let mut pushes = futures::stream::iter(0..pickups);
            while pushes.next().await.is_some() {
                backend.push(now_us()).await?;
                tokio::time::sleep(gap).await;
            }
            tokio::time::timeout(Duration::from_secs(60), run).await???;
            let mut v = LATENCIES
                .get()
                .ok_or("no latencies")?
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            v.sort_unstable();
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index into a short vector"
            )]
            let p = |q: f64| {
                let i = ((q * v.len() as f64) as usize).min(v.len().saturating_sub(1));
                v.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
            };
            write(&format!(
                "apalis-postgres pick-up latency over {} jobs: p50 {:.2} ms, p95 {:.2} ms, \
                 p99 {:.2} ms, max {:.2} ms",
                v.len(),
                p(0.5),
                p(0.95),
                p(0.99),
                p(1.0)
            ))?;
        }
        other => return Err(format!("BENCH_MODE must be burn or pickup, not {other:?}").into()),
    }
    Ok(())
}
