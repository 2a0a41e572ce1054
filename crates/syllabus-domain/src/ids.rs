//! Typed identifiers, so that a plan id can never be passed where a job id is expected.
//!
//! New ids are UUID v7 (time-ordered), which keeps B-tree inserts local and makes ids sortable by
//! creation time; ids from outside are accepted in any UUID version.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A learning plan.
    PlanId
);
typed_id!(
    /// A background job.
    JobId
);
typed_id!(
    /// A flashcard.
    FlashcardId
);
typed_id!(
    /// A generation attempt.
    AttemptId
);
typed_id!(
    /// A module of a plan.
    ModuleId
);
typed_id!(
    /// A task of a plan's module.
    TaskId
);

/// A user: the `sub` claim of their token. Users are created on first sight.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Longest subject accepted, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Accepts a non-empty subject of at most [`Self::MAX_LEN`] bytes without control characters.
    #[must_use]
    pub fn parse(subject: &str) -> Option<Self> {
        let ok = !subject.is_empty()
            && subject.len() <= Self::MAX_LEN
            && !subject.chars().any(char::is_control);
        ok.then(|| Self(subject.to_owned()))
    }

    /// The subject.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_time_ordered() {
        let a = PlanId::new();
        let b = PlanId::new();
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn ids_round_trip_through_strings() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().ok(), Some(id));
        assert!("not-a-uuid".parse::<JobId>().is_err());
    }

    #[test]
    fn user_ids_reject_empty_long_and_control_subjects() {
        assert!(UserId::parse("alice").is_some());
        assert!(UserId::parse("").is_none());
        assert!(UserId::parse("a\nb").is_none());
        assert!(UserId::parse(&"x".repeat(256)).is_none());
    }
}
