//! The learner's request for a plan: field rules and sanitizing.
//!
//! [`RawPlanRequest`] is what arrives (strings and numbers, as a client sent them);
//! [`PlanRequest::parse`] turns it into a request whose every field is known to be valid, or
//! reports every invalid field by name.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::issues::Issues;
use crate::study_days::StudyDays;
use crate::text::{Sanitized, sanitize};

/// Longest topic kept, in characters; longer topics are truncated, never rejected.
pub const TOPIC_MAX_CHARS: usize = 200;
/// Shortest topic accepted after trimming, in characters.
pub const TOPIC_MIN_CHARS: usize = 3;
/// Longest notes kept, in characters; longer notes are truncated.
pub const NOTES_MAX_CHARS: usize = 2_000;
/// Most weekly hours a learner may plan.
pub const WEEKLY_HOURS_MAX: i64 = 80;

/// A closed set of values with wire names, as the enums of this crate are.
pub trait StringEnum: Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The wire name.
    fn as_str(self) -> &'static str;

    /// The value with this wire name.
    fn from_wire(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == value)
    }

    /// The message for a value that is none of these: `must be one of: a, b, c`.
    fn expected() -> String {
        let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
        format!("must be one of: {}", allowed.join(", "))
    }
}

/// Defines a closed string enum with `as_str`, `FromStr`, serde and the list of its values.
/// An optional `internal { … }` block adds values that exist for the crates below the API (they
/// are stored, parsed and matched) but are not in `ALL`, the set the API documents and accepts.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }
     $(internal { $($(#[$idoc:meta])* $ivariant:ident => $itext:literal),+ $(,)? })?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )+
            $($(
                $(#[$idoc])*
                $ivariant,
            )+)?
        }

        impl $name {
            /// Every public value, in declaration order (not the internal ones).
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The internal values: never accepted from or documented to a client.
            pub const INTERNAL: &'static [Self] = &[$($(Self::$ivariant),+)?];

            /// The wire name.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                    $($(Self::$ivariant => $itext,)+)?
                }
            }

            /// Whether clients may see and name it.
            #[must_use]
            pub fn is_public(self) -> bool {
                !Self::INTERNAL.contains(&self)
            }
        }

        impl $crate::input::StringEnum for $name {
            const ALL: &'static [Self] = <$name>::ALL;
            fn as_str(self) -> &'static str {
                <$name>::as_str(self)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    $($($itext => Ok(Self::$ivariant),)+)?
                    _ => Err(()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How much the learner already knows.
    SkillLevel {
        Beginner => "beginner",
        Intermediate => "intermediate",
        Advanced => "advanced",
    }
);

string_enum!(
    /// How the learner prefers to learn.
    LearningStyle {
        Reading => "reading",
        Video => "video",
        Practice => "practice",
        Mixed => "mixed",
    }
);

/// Hours per week the learner can spend: 0–80.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WeeklyHours(u8);

impl WeeklyHours {
    /// Accepts 0–80.
    #[must_use]
    pub fn new(hours: i64) -> Option<Self> {
        if (0..=WEEKLY_HOURS_MAX).contains(&hours) {
            u8::try_from(hours).ok().map(Self)
        } else {
            None
        }
    }

    /// The hours.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// A plan request as a client sent it. Enum-like fields are strings so that an unknown value is
/// reported with its field name rather than as a parse failure of the whole body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RawPlanRequest {
    /// What the learner wants to learn.
    pub topic: String,
    /// Free-form notes for the generator.
    #[serde(default)]
    pub notes: Option<String>,
    /// One of [`SkillLevel`].
    pub skill_level: String,
    /// 0–80.
    pub weekly_hours: i64,
    /// One of [`LearningStyle`].
    pub learning_style: String,
    /// ISO date (`2026-01-31`).
    #[serde(default)]
    pub start_date: Option<String>,
    /// ISO date, not before `start_date`.
    #[serde(default)]
    pub deadline_date: Option<String>,
    /// The days of the week the learner studies on (`"monday"` … `"sunday"`); every day when
    /// absent.
    #[serde(default)]
    pub study_days: Option<Vec<String>>,
}

/// A valid, sanitized plan request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// Trimmed topic, at most [`TOPIC_MAX_CHARS`] characters.
    pub topic: Sanitized,
    /// Trimmed notes, at most [`NOTES_MAX_CHARS`] characters; `None` when absent or blank. The
    /// text is empty only when truncation left nothing (then [`Sanitized::truncated`] holds).
    pub notes: Option<Sanitized>,
    /// The learner's level.
    pub skill_level: SkillLevel,
    /// Hours per week.
    pub weekly_hours: WeeklyHours,
    /// Preferred style.
    pub learning_style: LearningStyle,
    /// Optional start.
    pub start_date: Option<NaiveDate>,
    /// Optional deadline, never before `start_date`.
    pub deadline_date: Option<NaiveDate>,
    /// The days sessions may fall on (every day by default).
    pub study_days: StudyDays,
}

/// Every invalid field of a request, by field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid plan request: {0}")]
pub struct InputError(pub Issues);

impl PlanRequest {
    /// Validates and sanitizes a request.
    ///
    /// # Errors
    /// [`InputError`] naming every invalid field: `topic` shorter than 3 characters after
    /// trimming, an unknown `skill_level` or `learning_style`, `weekly_hours` outside 0–80, a date
    /// that is not ISO `YYYY-MM-DD`, or a `deadline_date` before `start_date`.
    pub fn parse(raw: &RawPlanRequest) -> Result<Self, InputError> {
        let mut issues = Issues::default();

        // PostgreSQL text cannot hold NUL: refuse it here, naming the field, rather than let the
        // database be the first to see it.
        for (field, text) in [
            ("topic", Some(raw.topic.as_str())),
            ("notes", raw.notes.as_deref()),
        ] {
            if text.is_some_and(|t| t.contains('\0')) {
                issues.push(field, crate::fields::NUL_MESSAGE);
            }
        }
        let topic = sanitize(&raw.topic, TOPIC_MAX_CHARS);
        // What is stored is checked, not what was sent: a cut can leave less than the minimum
        // (trailing whitespace after the cut is trimmed; a single grapheme longer than the limit
        // leaves nothing).
        if topic.as_str().chars().count() < TOPIC_MIN_CHARS {
            issues.push(
                "topic",
                format!(
                    "must have at least {TOPIC_MIN_CHARS} characters after trimming and truncation to {TOPIC_MAX_CHARS}"
                ),
            );
        }
        let notes = raw
            .notes
            .as_deref()
            .map(|n| sanitize(n, NOTES_MAX_CHARS))
            // Blank notes are absent; notes a cut emptied (one grapheme longer than the limit)
            // stay, empty and marked truncated, so the cut is reported rather than hidden.
            .filter(|n| !n.as_str().is_empty() || n.truncated());

        let skill_level = parse_enum::<SkillLevel>(&raw.skill_level, "skill_level", &mut issues);
        let learning_style =
            parse_enum::<LearningStyle>(&raw.learning_style, "learning_style", &mut issues);
        let weekly_hours = WeeklyHours::new(raw.weekly_hours);
        if weekly_hours.is_none() {
            issues.push(
                "weekly_hours",
                format!("must be an integer from 0 to {WEEKLY_HOURS_MAX}"),
            );
        }
        let start_date = parse_date(raw.start_date.as_deref(), "start_date", &mut issues);
        let deadline_date = parse_date(raw.deadline_date.as_deref(), "deadline_date", &mut issues);
        check_dates(start_date, deadline_date, &mut issues);
        let study_days = raw
            .study_days
            .as_deref()
            .map_or(Some(StudyDays::ALL), |days| {
                parse_study_days(days, &mut issues)
            });

        match (skill_level, learning_style, weekly_hours) {
            (Some(skill_level), Some(learning_style), Some(weekly_hours)) if issues.is_empty() => {
                Ok(Self {
                    topic,
                    notes,
                    skill_level,
                    weekly_hours,
                    learning_style,
                    start_date,
                    deadline_date,
                    study_days: study_days.unwrap_or_default(),
                })
            }
            _ => Err(InputError(issues)),
        }
    }
}

/// A deadline is never before the start.
pub(crate) fn check_dates(
    start: Option<NaiveDate>,
    deadline: Option<NaiveDate>,
    issues: &mut Issues,
) {
    if let (Some(start), Some(deadline)) = (start, deadline)
        && deadline < start
    {
        issues.push("deadline_date", "must not be before start_date");
    }
}

/// Study days from their wire names: at least one, each a day of the week.
pub(crate) fn parse_study_days(days: &[String], issues: &mut Issues) -> Option<StudyDays> {
    match StudyDays::from_names(days.iter().map(String::as_str)) {
        Ok(Some(days)) => Some(days),
        Ok(None) => {
            issues.push("study_days", "must name at least one day of the week");
            None
        }
        Err(_) => {
            issues.push(
                "study_days",
                "must hold days of the week: monday, tuesday, wednesday, thursday, friday, saturday, sunday",
            );
            None
        }
    }
}

fn parse_enum<T: StringEnum>(value: &str, field: &str, issues: &mut Issues) -> Option<T> {
    let parsed = T::from_wire(value);
    if parsed.is_none() {
        issues.push(field, T::expected());
    }
    parsed
}

/// A blank date is absent; any other must be exactly `YYYY-MM-DD` (RFC 3339 `full-date`, what the
/// OpenAPI document's `format: date` admits): chrono's `%Y-%m-%d` alone also takes `2026-1-5`,
/// `+2026-01-05` and surrounding spaces.
pub(crate) fn parse_date(
    value: Option<&str>,
    field: &str,
    issues: &mut Issues,
) -> Option<NaiveDate> {
    let value = value?;
    if value.trim().is_empty() {
        return None;
    }
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let parsed = shaped
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten();
    if parsed.is_none() {
        issues.push(field, "must be an ISO date (YYYY-MM-DD)");
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawPlanRequest {
        RawPlanRequest {
            topic: "  Rust async  ".into(),
            notes: Some("  ".into()),
            skill_level: "beginner".into(),
            weekly_hours: 5,
            learning_style: "practice".into(),
            start_date: Some("2026-01-01".into()),
            deadline_date: Some("2026-03-01".into()),
            study_days: None,
        }
    }

    #[test]
    fn study_days_default_to_every_day_and_must_be_days() {
        assert_eq!(
            PlanRequest::parse(&raw()).map(|r| r.study_days),
            Ok(StudyDays::ALL)
        );
        let some = RawPlanRequest {
            study_days: Some(vec!["friday".into(), "tuesday".into(), "friday".into()]),
            ..raw()
        };
        assert_eq!(
            PlanRequest::parse(&some).map(|r| r.study_days.names().collect::<Vec<_>>()),
            Ok(vec!["tuesday", "friday"])
        );
        for bad in [vec![], vec!["Monday".to_owned()], vec!["mon".to_owned()]] {
            let err = PlanRequest::parse(&RawPlanRequest {
                study_days: Some(bad),
                ..raw()
            });
            assert_eq!(err.as_ref().err().map(fields), Some(vec!["study_days"]));
        }
    }

    fn fields(err: &InputError) -> Vec<&str> {
        err.0.as_slice().iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn a_valid_request_is_trimmed_and_blank_notes_become_absent() {
        let req = PlanRequest::parse(&raw()).unwrap();
        assert_eq!(req.topic.as_str(), "Rust async");
        assert!(req.notes.is_none());
        assert_eq!(req.skill_level, SkillLevel::Beginner);
        assert_eq!(req.learning_style, LearningStyle::Practice);
        assert_eq!(req.weekly_hours.get(), 5);
    }

    #[test]
    fn a_topic_shorter_than_three_characters_is_rejected() {
        let err = PlanRequest::parse(&RawPlanRequest {
            topic: "  ab ".into(),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(&err), ["topic"]);
        assert!(
            PlanRequest::parse(&RawPlanRequest {
                topic: " abc ".into(),
                ..raw()
            })
            .is_ok()
        );
    }

    #[test]
    fn a_topic_that_a_cut_shrinks_below_three_characters_is_rejected() {
        let spaces = format!("ab{}xyz", " ".repeat(198));
        let accents = format!("e{}", "\u{301}".repeat(300));
        for topic in [spaces, accents] {
            let err = PlanRequest::parse(&RawPlanRequest {
                topic: topic.clone(),
                ..raw()
            })
            .unwrap_err();
            assert_eq!(fields(&err), ["topic"], "{topic:?}");
        }
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let err = PlanRequest::parse(&RawPlanRequest {
            topic: "Rust\0async".into(),
            notes: Some("I know\0C".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(&err), ["topic", "notes"]);
    }

    #[test]
    fn notes_that_truncation_empties_are_reported_as_truncated() {
        let raw = RawPlanRequest {
            notes: Some(format!("e{}", "\u{301}".repeat(NOTES_MAX_CHARS + 100))),
            ..raw()
        };
        let notes = PlanRequest::parse(&raw).unwrap().notes.unwrap();
        assert!(notes.truncated());
        assert_eq!(notes.as_str(), "");
        assert_eq!(notes.original_length(), NOTES_MAX_CHARS + 101);
    }

    #[test]
    fn long_topic_and_notes_are_truncated_not_rejected() {
        let req = PlanRequest::parse(&RawPlanRequest {
            topic: "t".repeat(500),
            notes: Some("n".repeat(2_500)),
            ..raw()
        })
        .unwrap();
        assert_eq!(req.topic.len_chars(), 200);
        assert!(req.topic.truncated());
        assert_eq!(req.topic.original_length(), 500);
        let notes = req.notes.unwrap();
        assert_eq!(notes.len_chars(), 2_000);
        assert_eq!(notes.original_length(), 2_500);
    }

    #[test]
    fn weekly_hours_outside_zero_to_eighty_are_rejected() {
        for (hours, ok) in [(-1, false), (0, true), (80, true), (81, false)] {
            let res = PlanRequest::parse(&RawPlanRequest {
                weekly_hours: hours,
                ..raw()
            });
            assert_eq!(res.is_ok(), ok, "hours {hours}");
        }
    }

    #[test]
    fn unknown_enum_values_name_their_field() {
        let err = PlanRequest::parse(&RawPlanRequest {
            skill_level: "expert".into(),
            learning_style: "osmosis".into(),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(&err), ["skill_level", "learning_style"]);
    }

    #[test]
    fn a_deadline_before_the_start_is_rejected() {
        let err = PlanRequest::parse(&RawPlanRequest {
            start_date: Some("2026-05-02".into()),
            deadline_date: Some("2026-05-01".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(&err), ["deadline_date"]);
        let same_day = RawPlanRequest {
            start_date: Some("2026-05-01".into()),
            deadline_date: Some("2026-05-01".into()),
            ..raw()
        };
        assert!(PlanRequest::parse(&same_day).is_ok());
    }

    #[test]
    fn malformed_dates_name_their_field() {
        let err = PlanRequest::parse(&RawPlanRequest {
            start_date: Some("01/02/2026".into()),
            deadline_date: Some("2026-02-30".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(&err), ["start_date", "deadline_date"]);
        for loose in [
            "2026-1-5",
            "+2026-01-05",
            " 2026-01-05",
            "2026-01-05 ",
            "20260-01-05",
        ] {
            let err = PlanRequest::parse(&RawPlanRequest {
                start_date: Some(loose.into()),
                deadline_date: None,
                ..raw()
            })
            .unwrap_err();
            assert_eq!(fields(&err), ["start_date"], "{loose:?}");
        }
        let blank = PlanRequest::parse(&RawPlanRequest {
            start_date: Some(" \t".into()),
            ..raw()
        });
        assert_eq!(blank.map(|r| r.start_date), Ok(None));
    }
}
