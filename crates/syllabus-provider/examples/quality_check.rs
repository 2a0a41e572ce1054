//! Counts degenerate plans with the domain's rules (issue #21): reads the JSON lines that
//! `scripts/bench-quality.py` writes (a plan as the API returns it, with its attempts) on stdin
//! and prints each plan's defects and a summary for docs/benchmarks.md.
//!
//! A copy is counted against this checkout's plan example and against the topic-derived example
//! the prompt used before issue #21, so one counter serves a run of either binary. Stored minutes
//! are already clamped, so the minutes rule compares clamped values here.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};

use serde_json::{Value, json};
use syllabus_domain::quality::{self, ExampleTexts};
use syllabus_provider::plan_example_texts;

/// The example texts of the plan prompt before issue #21, which named the topic.
fn legacy_example(topic: &str) -> [String; 3] {
    [
        format!("Getting started with {topic}"),
        format!("The first ideas of {topic}."),
        format!("Read an introduction to {topic}"),
    ]
}

/// The rule an issue comes from, by its message.
fn rule(message: &str) -> &'static str {
    if message.starts_with("is the same title") {
        "repeated sibling titles"
    } else if message.starts_with("repeats the same words") {
        "looping text"
    } else if message.starts_with("copies the example") {
        "copy of the prompt's example"
    } else if message.starts_with("is far from the sum") {
        "module minutes far from its tasks' sum"
    } else {
        "other"
    }
}

fn plan_doc(modules: &[Value]) -> Value {
    let keep = |v: &Value| {
        json!({
            "title": v["title"], "description": v["description"],
            "estimated_minutes": v["estimated_minutes"],
        })
    };
    json!({"modules": modules.iter().map(|m| {
        let mut out = keep(m);
        out["tasks"] = m["tasks"].as_array().map_or_else(Vec::new, |t| t.iter().map(keep).collect()).into();
        out
    }).collect::<Vec<_>>()})
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut plans, mut ready, mut defective, mut failed, mut attempts) = (0, 0, 0, 0, 0);
    let mut by_rule: BTreeMap<&str, u32> = BTreeMap::new();
    let mut by_class: BTreeMap<String, u32> = BTreeMap::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value = serde_json::from_str(&line)?;
        plans += 1;
        let topic = row["topic"].as_str().unwrap_or_default();
        let numbered: Vec<&Value> = row["attempts"]
            .as_array()
            .map(|a| a.iter().filter(|a| !a["number"].is_null()).collect())
            .unwrap_or_default();
        attempts += numbered.len();
        for a in &numbered {
            let class = a["classification"].as_str().unwrap_or("success").to_owned();
            *by_class.entry(class).or_default() += 1;
        }
        let status = row["status"].as_str().unwrap_or("?");
        let mut rules: Vec<&str> = Vec::new();
        let mut loopiest = 0.0_f64;
        let mut spread = 1.0_f64;
        if status == "ready" {
            ready += 1;
            let doc = plan_doc(row["modules"].as_array().map_or(&[][..], Vec::as_slice));
            let current = plan_example_texts();
            // A row may name the texts of another example (a prompt variant being tried).
            let extra: Vec<String> = row["example_texts"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let example = ExampleTexts::new(legacy_example(topic).into_iter().chain(extra));
            let plan = match syllabus_domain::validate_plan(&doc) {
                Ok(plan) => plan,
                Err(_) => {
                    rules.push("the schema's rules");
                    defective += 1;
                    *by_rule.entry("the schema's rules").or_default() += 1;
                    writeln!(out, "{topic:<46} breaks the schema's rules")?;
                    continue;
                }
            };
            // The figures the thresholds were chosen on: the loopiest text's share of repeated
            // word n-grams, and the widest ratio between a module's minutes and its tasks' sum.
            for m in &plan.modules {
                let texts = std::iter::once(&m.title)
                    .chain(m.description.as_ref())
                    .chain(
                        m.tasks
                            .iter()
                            .flat_map(|t| std::iter::once(&t.title).chain(t.description.as_ref())),
                    );
                for t in texts {
                    loopiest = loopiest.max(quality::repeated_ngram_share(t));
                }
                let sum: u32 = m.tasks.iter().map(|t| t.estimated_minutes).sum();
                let (own, sum) = (f64::from(m.estimated_minutes), f64::from(sum));
                spread = spread.max(own.max(sum) / own.min(sum).max(1.0));
            }
            for checked in [&example, &current] {
                if let Err(issues) = quality::check_plan(&doc, &plan, checked) {
                    for issue in issues.as_slice() {
                        let r = rule(&issue.message);
                        if !rules.contains(&r) {
                            rules.push(r);
                        }
                    }
                }
            }
            if !rules.is_empty() {
                defective += 1;
                for r in &rules {
                    *by_rule.entry(r).or_default() += 1;
                }
            }
        } else if status == "failed" {
            failed += 1;
        }
        writeln!(
            out,
            "{:<46} {:<7} {} attempt(s)  loop {loopiest:.2}  minutes x{spread:.1}  {}",
            topic.chars().take(46).collect::<String>(),
            status,
            numbered.len(),
            if rules.is_empty() {
                "-".to_owned()
            } else {
                rules.join(", ")
            }
        )?;
    }
    writeln!(
        out,
        "\nplans {plans}: ready {ready} (with a defect: {defective}, without: {}), failed {failed}, attempts {attempts} ({:.2} per plan)",
        ready - defective,
        f64::from(u32::try_from(attempts)?) / f64::from(u32::try_from(plans.max(1))?)
    )?;
    writeln!(out, "ready plans by defect: {by_rule:?}")?;
    writeln!(out, "attempts by outcome: {by_class:?}")?;
    Ok(())
}
