//! Failure classes of a generation attempt and their precedence.
//!
//! A failed attempt is described by [`FailureFacts`] (what was observed) and classified by
//! [`FailureFacts::classify`]: `capped` > `timeout` > `rate_limit` > `validation` >
//! `provider_error`, the first that applies wins. The same facts always give the same class.
//! A successful attempt has no class (NULL in storage).

use crate::input::string_enum;

string_enum!(
    /// Why an attempt failed.
    FailureClass {
        Capped => "capped",
        Timeout => "timeout",
        RateLimit => "rate_limit",
        Validation => "validation",
        ProviderError => "provider_error",
    }
);

impl FailureClass {
    /// Whether a job that failed this way may be tried again automatically.
    ///
    /// A capped attempt never is: nothing would change. Every other class may succeed on a later
    /// try (a validation failure is re-asked with its errors).
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        !matches!(self, Self::Capped)
    }

    /// A short sentence a user may read.
    #[must_use]
    pub const fn user_message(self) -> &'static str {
        match self {
            Self::Capped => "The plan has used all of its generation attempts.",
            Self::Timeout => "The language model did not answer in time.",
            Self::RateLimit => "The language model provider is rate limiting requests.",
            Self::Validation => "The language model's answer did not match the expected structure.",
            Self::ProviderError => "The language model provider could not complete the request.",
        }
    }
}

/// What was observed about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureFacts {
    /// The plan already had its 3 non-capped attempts; no provider call was made.
    pub capped: bool,
    /// The adaptive deadline passed before a complete response, whatever error the abort caused.
    pub deadline_passed: bool,
    /// The provider answered HTTP 429.
    pub http_429: bool,
    /// The answer completed (a `finish_reason` arrived) but its content broke the schema or a rule.
    pub completed_but_invalid: bool,
}

impl FailureFacts {
    /// The class of a failure with these facts; `provider_error` when nothing more specific
    /// applies.
    #[must_use]
    pub const fn classify(self) -> FailureClass {
        if self.capped {
            FailureClass::Capped
        } else if self.deadline_passed {
            FailureClass::Timeout
        } else if self.http_429 {
            FailureClass::RateLimit
        } else if self.completed_but_invalid {
            FailureClass::Validation
        } else {
            FailureClass::ProviderError
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_specific_fact_is_a_provider_error() {
        assert_eq!(
            FailureFacts::default().classify(),
            FailureClass::ProviderError
        );
    }

    #[test]
    fn each_fact_alone_gives_its_class() {
        let f = FailureFacts::default();
        assert_eq!(
            FailureFacts { capped: true, ..f }.classify(),
            FailureClass::Capped
        );
        assert_eq!(
            FailureFacts {
                deadline_passed: true,
                ..f
            }
            .classify(),
            FailureClass::Timeout
        );
        assert_eq!(
            FailureFacts {
                http_429: true,
                ..f
            }
            .classify(),
            FailureClass::RateLimit
        );
        assert_eq!(
            FailureFacts {
                completed_but_invalid: true,
                ..f
            }
            .classify(),
            FailureClass::Validation
        );
    }

    #[test]
    fn class_names_round_trip() {
        for class in FailureClass::ALL {
            assert_eq!(class.as_str().parse::<FailureClass>(), Ok(*class));
            assert_eq!(serde_json::to_value(class).unwrap(), class.as_str());
        }
    }

    proptest! {
        #[test]
        fn the_highest_applicable_class_wins(capped: bool, deadline: bool, r429: bool, invalid: bool) {
            let class = FailureFacts { capped, deadline_passed: deadline, http_429: r429, completed_but_invalid: invalid }.classify();
            let expected = [
                (capped, FailureClass::Capped),
                (deadline, FailureClass::Timeout),
                (r429, FailureClass::RateLimit),
                (invalid, FailureClass::Validation),
            ]
            .into_iter()
            .find(|(applies, _)| *applies)
            .map_or(FailureClass::ProviderError, |(_, c)| c);
            prop_assert_eq!(class, expected);
        }
    }
}
