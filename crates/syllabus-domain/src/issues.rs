//! Located problems: a path (a field name or `modules[2].tasks[0].title`) and a sentence.
//!
//! Input errors and validation failures both collect every problem they find instead of stopping
//! at the first, so that a user (or a model being re-asked) can fix everything in one go.

use std::fmt;

use serde_json::Value;

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    /// Where the problem is: a request field (`topic`) or a path into generated output
    /// (`modules[2].tasks[0].estimated_minutes`). Empty for the document as a whole.
    pub path: String,
    /// A short sentence a user may read. Never contains the offending text itself.
    pub message: String,
}

impl Issue {
    /// Builds an issue.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A non-empty list of issues (as JSON, the list of its issues).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Issues(Vec<Issue>);

impl Issues {
    /// Adds an issue.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue::new(path, message));
    }

    /// Whether nothing was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The issues found, in document order.
    #[must_use]
    pub fn as_slice(&self) -> &[Issue] {
        &self.0
    }

    /// Consumes the list.
    #[must_use]
    pub fn into_vec(self) -> Vec<Issue> {
        self.0
    }

    /// `Ok(value)` when no issue was found, else `Err(self)`.
    ///
    /// # Errors
    /// Returns the issues when there is at least one.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Issues {}

impl FromIterator<Issue> for Issues {
    fn from_iter<I: IntoIterator<Item = Issue>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Parses a model's text as JSON; text that is not JSON is one issue at the document's root.
///
/// # Errors
/// That one issue.
pub fn parse_json(text: &str) -> Result<Value, Issues> {
    serde_json::from_str(text).map_err(|_| {
        let mut issues = Issues::default();
        issues.push("", "the output is not valid JSON");
        issues
    })
}
