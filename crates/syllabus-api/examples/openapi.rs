//! Writes the API's OpenAPI document (as `GET /api/v1/openapi.json` serves it) to standard
//! output: `cargo run -p syllabus-api --example openapi > openapi.json`.

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(syllabus_api::openapi::json().as_bytes())?;
    out.write_all(b"\n")
}
