//! End-to-end tests of the `syllabus` binary live in `tests/`; this library only locates the
//! binary that `scripts/test.sh` builds before the suite runs.

use std::path::PathBuf;

/// The path of the `syllabus` binary next to the running test executable (`target/<profile>/`).
///
/// # Errors
/// When the binary has not been built (`cargo build -p syllabus`, which `scripts/test.sh` runs).
pub fn syllabus_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> → target/<profile>/syllabus
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .ok_or("cannot locate the target directory")?;
    let bin = dir.join(format!("syllabus{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build -p syllabus` (scripts/test.sh does)",
            bin.display()
        ))
    }
}
