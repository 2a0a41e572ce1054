//! A setting that must never be printed: an API key, a signing secret, a database URL with its
//! password. `Debug` shows that a value is there, never the value; there is no `Display`, so it
//! cannot end up in a log line or an error message by accident. Read it with [`Secret::expose`]
//! where it is used.

use std::fmt;

/// A string that does not print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that uses it (a header, a signature, a connection).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("sk-very-secret");
        let shown = format!("{s:?} {:?} {:#?}", Some(&s), vec![s.clone()]);
        assert!(!shown.contains("very"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        assert_eq!(s.expose(), "sk-very-secret");
    }
}
