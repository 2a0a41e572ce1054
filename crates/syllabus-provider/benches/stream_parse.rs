//! What the provider's parsing adds to a streamed 24 × 20 plan: the incremental module scan over
//! every chunk as it arrives (each module parsed and validated as it completes, for the deadline
//! and the previews), and the final parse + validation after the last byte.
//! Reports median and p95 over many runs.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![expect(
    clippy::expect_used,
    reason = "a broken fixture should stop the benchmark"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use syllabus_domain::plan::validate_module;
use syllabus_domain::validate_plan;
use syllabus_provider::scan::ElementScanner;

fn plan_text() -> String {
    json!({"modules": (0..24).map(|m| json!({
        "title": format!("Module {m}: consensus, replication and failure detection"),
        "estimated_minutes": 30 + m * 20,
        "description": "Read the chapter, then work through the lab exercise.",
        "tasks": (0..20).map(|t| json!({
            "title": format!("Task {t}: implement and test a small piece"),
            "estimated_minutes": 3 + t * 7,
            "description": "Write it, test it, read the failures, fix them.",
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()})
    .to_string()
}

/// Splits like a model's stream: a few bytes per chunk (about one token).
fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "{name:<52} median {:>10.2?}   p95 {:>10.2?}   ({} runs)",
        pct(50),
        pct(95),
        times.len()
    );
}

fn main() {
    let text = plan_text();
    let pieces = chunks(&text, 6);
    println!("plan text: {} bytes in {} chunks", text.len(), pieces.len());
    let runs = 500;
    let mut during = Vec::with_capacity(runs);
    let mut after = Vec::with_capacity(runs);
    let mut per_chunk_max = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut buf = String::new();
        let mut scanner = ElementScanner::default();
        let mut index = 0;
        let mut spent = Duration::ZERO;
        let mut worst = Duration::ZERO;
        for piece in &pieces {
            let t = Instant::now();
            buf.push_str(piece);
            while let Some((a, b)) = scanner.next_element(&buf) {
                let module: Value = serde_json::from_str(&buf[a..b]).expect("module json");
                black_box(validate_module(&module, index).is_ok());
                index += 1;
            }
            let d = t.elapsed();
            spent += d;
            worst = worst.max(d);
        }
        during.push(spent);
        per_chunk_max.push(worst);
        let t = Instant::now();
        let doc: Value = serde_json::from_str(black_box(&buf)).expect("plan json");
        black_box(validate_plan(&doc).expect("valid plan"));
        after.push(t.elapsed());
    }
    report("scan while streaming (all chunks, total)", during);
    report(
        "worst single chunk (append + scan [+ module checks])",
        per_chunk_max,
    );
    report("after the last byte: parse + validate + normalize", after);
}
