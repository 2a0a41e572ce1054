//! Field checks shared by the validators of generated content (plans, flashcards, skill trees).
//!
//! A value's location is passed as a [`Located`], which formats its path only when an issue is
//! reported: a valid document costs no path strings.

use serde_json::Value;

use crate::issues::Issues;

/// Where a value sits in a document.
pub(crate) trait Located: Copy {
    /// The value's own path, e.g. `modules[2].tasks[0]`.
    fn path(self) -> String;

    /// The path of one of its fields.
    fn field(self, name: &str) -> String {
        format!("{}.{name}", self.path())
    }
}

impl Located for &str {
    fn path(self) -> String {
        self.to_owned()
    }
}

/// Whether `text` has more than `max_chars` characters; counts only when the byte length could
/// exceed the limit.
pub(crate) fn exceeds(text: &str, max_chars: usize) -> bool {
    text.len() > max_chars && text.chars().count() > max_chars
}

/// The issue of a text holding U+0000, which PostgreSQL's `text` cannot store.
pub(crate) const NUL_MESSAGE: &str = "must not contain NUL (U+0000) characters";

/// A required string field of at most `max` characters with at least one letter or digit,
/// trimmed.
pub(crate) fn required_text(
    value: &Value,
    name: &str,
    max: usize,
    at: impl Located,
    issues: &mut Issues,
) -> Option<String> {
    required_str(value.get(name), max, || at.field(name), issues)
}

/// The check behind [`required_text`], for a value that is not an object's field (an array item):
/// a string of at most `max` characters with at least one letter or digit, trimmed. `path` is
/// formatted only when an issue is reported.
pub(crate) fn required_str(
    value: Option<&Value>,
    max: usize,
    path: impl FnOnce() -> String,
    issues: &mut Issues,
) -> Option<String> {
    match value.and_then(Value::as_str).map(str::trim) {
        None => issues.push(path(), "must be a string"),
        Some("") => issues.push(path(), "must not be empty"),
        // PostgreSQL text cannot hold NUL: a validation issue (re-asked), not a failed insert.
        Some(s) if s.contains('\0') => issues.push(path(), NUL_MESSAGE),
        // "…" or "?" is not a title, question or answer: small models copy placeholders.
        Some(s) if !s.chars().any(char::is_alphanumeric) => {
            issues.push(path(), "must contain a letter or a digit");
        }
        Some(s) if exceeds(s, max) => {
            issues.push(path(), format!("must have at most {max} characters"));
        }
        Some(s) => return Some(s.to_owned()),
    }
    None
}

/// An optional string field of at most `max` characters, trimmed: `Some(None)` when absent, null
/// or blank; `None` when invalid.
pub(crate) fn optional_text(
    value: &Value,
    name: &str,
    max: usize,
    at: impl Located,
    issues: &mut Issues,
) -> Option<Option<String>> {
    match value.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.contains('\0') {
                issues.push(at.field(name), NUL_MESSAGE);
                None
            } else if exceeds(s, max) {
                issues.push(
                    at.field(name),
                    format!("must have at most {max} characters"),
                );
                None
            } else {
                Some((!s.is_empty()).then(|| s.to_owned()))
            }
        }
        Some(_) => {
            issues.push(at.field(name), "must be a string or null");
            None
        }
    }
}
