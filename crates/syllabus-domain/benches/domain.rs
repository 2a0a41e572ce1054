//! Micro-benchmark of the domain's hot paths: sanitizing a maximal input and validating a maximal
//! plan. A small harness reports median and p95 over many samples (criterion and divan report
//! means and medians, not the p95 our targets are written in).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use syllabus_domain::input::{NOTES_MAX_CHARS, TOPIC_MAX_CHARS};
use syllabus_domain::{sanitize, validate_plan};

fn measure(name: &str, samples: usize, mut f: impl FnMut()) {
    // Warm up caches and the allocator.
    for _ in 0..samples / 10 {
        f();
    }
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "{name:<44} median {:>10.2?}   p95 {:>10.2?}   ({samples} samples)",
        pct(50),
        pct(95)
    );
}

fn mixed_text(chars: usize) -> String {
    // Latin, Cyrillic, CJK, combining marks, emoji with skin tone and ZWJ families.
    let pieces = [
        "Rust ",
        "ржавчина ",
        "錆の学習 ",
        "e\u{301}te\u{301} ",
        "👍🏽 ",
        "👨‍👩‍👧 ",
    ];
    let mut s = String::new();
    let mut i = 0;
    while s.chars().count() < chars {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s.chars().take(chars).collect()
}

fn main() {
    let topic = mixed_text(10_000);
    let notes = mixed_text(50_000);
    measure("sanitize topic (10,000 chars → 200)", 20_000, || {
        black_box(sanitize(black_box(&topic), TOPIC_MAX_CHARS));
    });
    measure("sanitize notes (50,000 chars → 2,000)", 5_000, || {
        black_box(sanitize(black_box(&notes), NOTES_MAX_CHARS));
    });
    measure("sanitize topic + notes", 5_000, || {
        black_box(sanitize(black_box(&topic), TOPIC_MAX_CHARS));
        black_box(sanitize(black_box(&notes), NOTES_MAX_CHARS));
    });

    let doc = json!({"modules": (0..24).map(|m| json!({
        "title": format!("Module {m}: ownership, borrowing and lifetimes"),
        "description": "Work through the chapter, then build the exercise.",
        "estimated_minutes": 30 + m * 25,
        "tasks": (0..20).map(|t| json!({
            "title": format!("Task {t}: write a small program"),
            "description": "Compile it, read the errors, fix them.",
            "estimated_minutes": 3 + t * 7,
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()});
    let text = doc.to_string();
    measure("validate + normalize 24×20 plan (Value)", 5_000, || {
        black_box(validate_plan(black_box(&doc)).ok());
    });
    measure(
        "parse + validate + normalize 24×20 plan (text)",
        5_000,
        || {
            black_box(syllabus_domain::plan::validate_plan_text(black_box(&text)).ok());
        },
    );
}
