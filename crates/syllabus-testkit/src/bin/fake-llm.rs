//! A standalone fake OpenAI-compatible server for benchmarks: answers every chat completion at
//! once with a valid streamed document, a 3 × 4 learning plan by default or a two-node skill tree
//! with the argument `skill_tree`. Prints its base URL, then serves until killed.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;
use syllabus_testkit::{FakeLlm, Reply};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let llm = FakeLlm::start().await?;
    let modules: Vec<_> = (1..=3)
        .map(|m| {
            json!({
                "title": format!("Module {m}"),
                "description": null,
                "estimated_minutes": 90,
                "tasks": (1..=4).map(|t| json!({"title": format!("Task {t}"), "description": null, "estimated_minutes": 20})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let document = match std::env::args().nth(1).as_deref() {
        Some("skill_tree") => {
            json!({"skills": [{"title": "Basics", "description": null, "children": [
            {"title": "Next", "description": null, "children": []}]}]})
        }
        _ => json!({ "modules": modules }),
    };
    llm.set_default(Reply::stream(&document.to_string(), 4, Duration::ZERO));
    writeln!(std::io::stdout().lock(), "{}", llm.base_url())?;
    std::future::pending::<()>().await;
    Ok(())
}
