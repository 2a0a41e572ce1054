//! A standalone fake OpenAI-compatible server for benchmarks: answers every chat completion at
//! once with a valid streamed document, a 3 × 4 learning plan by default or a two-node skill tree
//! with the argument `skill_tree`. Prints its base URL, then serves until killed.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;
use syllabus_testkit::fake_llm::plan_json;
use syllabus_testkit::{FakeLlm, Reply};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let llm = FakeLlm::start().await?;
    let document = match std::env::args().nth(1).as_deref() {
        Some("skill_tree") => {
            json!({"skills": [{"title": "Basics", "description": null, "children": [
            {"title": "Next", "description": null, "children": []}]}]})
            .to_string()
        }
        _ => plan_json(3, 4, 90),
    };
    llm.set_default(Reply::stream(&document, 4, Duration::ZERO));
    writeln!(std::io::stdout().lock(), "{}", llm.base_url())?;
    std::future::pending::<()>().await;
    Ok(())
}
