//! Changes a learner makes to a plan after creating it (issue #20): its weekly hours, study days,
//! start and deadline dates and notes. None of them regenerates the plan: they move its
//! schedule, and the notes inform the next generation.
//!
//! [`RawPlanChanges`] is what arrives, with JSON merge-patch meaning (RFC 7396): a field left out
//! is kept, `null` clears it (back to every day for `study_days`); [`PlanChanges::parse`]
//! validates it field by field, and [`PlanChanges::dates`] checks the dates it leaves against
//! the plan's current ones.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use crate::input::StringEnum as _;
use crate::input::{
    InputError, NOTES_MAX_CHARS, WEEKLY_HOURS_MAX, WeeklyHours, check_dates, parse_date,
    parse_study_days,
};
use crate::issues::Issues;
use crate::sharing::Visibility;
use crate::study_days::StudyDays;
use crate::text::{Sanitized, sanitize};

/// One field of a merge patch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Left out: keep the current value.
    #[default]
    Keep,
    /// `null`: clear it.
    Clear,
    /// A new value.
    Set(T),
}

impl<T> Patch<T> {
    /// The value after the patch, given the current one.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Self::Keep => current,
            Self::Clear => None,
            Self::Set(v) => Some(v),
        }
    }

    /// Whether the field was left out.
    pub const fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }

    fn map<U>(self, f: impl FnOnce(T) -> Option<U>) -> Option<Patch<U>> {
        match self {
            Self::Keep => Some(Patch::Keep),
            Self::Clear => Some(Patch::Clear),
            Self::Set(v) => f(v).map(Patch::Set),
        }
    }
}

/// `null` is [`Patch::Clear`], a value is [`Patch::Set`]; a field left out never reaches this
/// (it is `#[serde(default)]`, [`Patch::Keep`]).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Self::Clear, Self::Set))
    }
}

/// The names of the fields a plan's changes may hold, in the order the document lists them.
pub const CHANGEABLE_FIELDS: [&str; 6] = [
    "weekly_hours",
    "study_days",
    "start_date",
    "deadline_date",
    "notes",
    "visibility",
];

/// Changes as a client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RawPlanChanges {
    /// 0–80; `null` is refused (a plan always has weekly hours).
    pub weekly_hours: Patch<i64>,
    /// Day names; `null` is every day.
    pub study_days: Patch<Vec<String>>,
    /// ISO date or `null`.
    pub start_date: Patch<String>,
    /// ISO date or `null`.
    pub deadline_date: Patch<String>,
    /// Notes or `null`.
    pub notes: Patch<String>,
    /// `private` or `public`; `null` is refused.
    pub visibility: Patch<String>,
}

/// Valid changes, each field kept, cleared or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanChanges {
    /// New weekly hours.
    pub weekly_hours: Option<WeeklyHours>,
    /// New study days (`Clear` is every day).
    pub study_days: Patch<StudyDays>,
    /// New start.
    pub start_date: Patch<NaiveDate>,
    /// New deadline.
    pub deadline_date: Patch<NaiveDate>,
    /// New notes, sanitized like a new plan's; blank notes clear them.
    pub notes: Patch<Sanitized>,
    /// Who may read the plan from now on.
    pub visibility: Option<Visibility>,
}

impl PlanChanges {
    /// Validates each field as [`crate::PlanRequest::parse`] does.
    ///
    /// # Errors
    /// [`InputError`] naming every invalid field, and `deadline_date` when both dates are given
    /// and the deadline is before the start.
    pub fn parse(raw: RawPlanChanges) -> Result<Self, InputError> {
        let mut issues = Issues::default();
        let weekly_hours = match raw.weekly_hours {
            Patch::Keep => Some(None),
            Patch::Clear => None,
            Patch::Set(h) => WeeklyHours::new(h).map(Some),
        };
        if weekly_hours.is_none() {
            issues.push(
                "weekly_hours",
                format!("must be an integer from 0 to {WEEKLY_HOURS_MAX}"),
            );
        }
        let study_days = raw
            .study_days
            .map(|days| parse_study_days(&days, &mut issues));
        let mut date = |patch: Patch<String>, field: &str| {
            patch.map(|text| {
                // A blank date is refused here rather than read as absent: `null` clears.
                let parsed = parse_date(Some(&text), field, &mut issues);
                if parsed.is_none() && text.trim().is_empty() {
                    issues.push(field, "must be an ISO date (YYYY-MM-DD) or null");
                }
                parsed
            })
        };
        let start_date = date(raw.start_date, "start_date");
        let deadline_date = date(raw.deadline_date, "deadline_date");
        if let (Some(Patch::Set(start)), Some(Patch::Set(deadline))) = (&start_date, &deadline_date)
        {
            check_dates(Some(*start), Some(*deadline), &mut issues);
        }
        if let Patch::Set(text) = &raw.notes
            && text.contains('\0')
        {
            issues.push("notes", crate::fields::NUL_MESSAGE);
        }
        let visibility = match &raw.visibility {
            Patch::Keep => Some(None),
            Patch::Clear => None,
            Patch::Set(v) => Visibility::from_wire(v).map(Some),
        };
        if visibility.is_none() {
            issues.push("visibility", Visibility::expected());
        }
        let notes = match raw.notes {
            Patch::Set(text) => {
                let notes = sanitize(&text, NOTES_MAX_CHARS);
                // Blank notes are no notes, as on create.
                if notes.as_str().is_empty() && !notes.truncated() {
                    Patch::Clear
                } else {
                    Patch::Set(notes)
                }
            }
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        };
        match (
            weekly_hours,
            study_days,
            start_date,
            deadline_date,
            visibility,
        ) {
            (
                Some(weekly_hours),
                Some(study_days),
                Some(start_date),
                Some(deadline_date),
                Some(visibility),
            ) if issues.is_empty() => Ok(Self {
                weekly_hours,
                study_days,
                start_date,
                deadline_date,
                notes,
                visibility,
            }),
            _ => Err(InputError(issues)),
        }
    }

    /// The start and deadline after these changes, given the plan's current ones.
    ///
    /// # Errors
    /// `deadline_date` when the deadline would fall before the start (for instance, a new start
    /// after the deadline the plan already has).
    pub fn dates(
        &self,
        start: Option<NaiveDate>,
        deadline: Option<NaiveDate>,
    ) -> Result<(Option<NaiveDate>, Option<NaiveDate>), Issues> {
        let start = self.start_date.clone().apply(start);
        let deadline = self.deadline_date.clone().apply(deadline);
        let mut issues = Issues::default();
        check_dates(start, deadline, &mut issues);
        issues.into_result((start, deadline))
    }

    /// Whether nothing changes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.weekly_hours.is_none()
            && self.study_days.is_keep()
            && self.start_date.is_keep()
            && self.deadline_date.is_keep()
            && self.notes.is_keep()
            && self.visibility.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<PlanChanges, Vec<String>> {
        let raw: RawPlanChanges = serde_json::from_value(json).map_err(|e| vec![e.to_string()])?;
        PlanChanges::parse(raw).map_err(|e| {
            e.0.as_slice()
                .iter()
                .map(|i| format!("{}: {}", i.path, i.message))
                .collect()
        })
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn left_out_keeps_null_clears_value_sets() {
        let c = parse(serde_json::json!({
            "weekly_hours": 6,
            "study_days": ["saturday", "monday"],
            "start_date": null,
            "notes": "  more practice  ",
        }))
        .unwrap_or_default();
        assert_eq!(c.weekly_hours.map(WeeklyHours::get), Some(6));
        assert_eq!(
            c.study_days,
            Patch::Set(
                StudyDays::from_weekdays([chrono::Weekday::Mon, chrono::Weekday::Sat])
                    .unwrap_or_default()
            )
        );
        assert_eq!(c.start_date, Patch::Clear);
        assert_eq!(c.deadline_date, Patch::Keep);
        assert!(matches!(&c.notes, Patch::Set(n) if n.as_str() == "more practice"));
        assert!(!c.is_empty());
        assert!(parse(serde_json::json!({})).unwrap_or_default().is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = parse(serde_json::json!({
            "weekly_hours": 81,
            "study_days": [],
            "start_date": "2026-1-5",
            "deadline_date": "",
        }))
        .err()
        .unwrap_or_default();
        let fields: Vec<&str> = err.iter().filter_map(|e| e.split(':').next()).collect();
        assert_eq!(
            fields,
            ["weekly_hours", "study_days", "start_date", "deadline_date"]
        );
        let err = parse(serde_json::json!({"weekly_hours": null, "study_days": ["funday"]}))
            .err()
            .unwrap_or_default();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err[1].contains("monday, tuesday"));
    }

    #[test]
    fn the_deadline_is_checked_against_both_given_and_current_dates() {
        let both =
            parse(serde_json::json!({"start_date": "2026-03-02", "deadline_date": "2026-03-01"}));
        assert_eq!(
            both.err().unwrap_or_default(),
            ["deadline_date: must not be before start_date"]
        );
        let later_start =
            parse(serde_json::json!({"start_date": "2026-04-01"})).unwrap_or_default();
        assert!(
            later_start
                .dates(Some(day("2026-01-01")), Some(day("2026-03-01")))
                .is_err()
        );
        assert_eq!(
            later_start.dates(None, None),
            Ok((Some(day("2026-04-01")), None))
        );
        let cleared = parse(serde_json::json!({"deadline_date": null})).unwrap_or_default();
        assert_eq!(
            cleared.dates(Some(day("2026-04-01")), Some(day("2026-03-01"))),
            Ok((Some(day("2026-04-01")), None))
        );
    }

    #[test]
    fn visibility_is_private_or_public_never_null() {
        let c = parse(serde_json::json!({"visibility": "public"})).unwrap_or_default();
        assert_eq!(c.visibility, Some(Visibility::Public));
        assert!(!c.is_empty());
        for bad in [serde_json::json!(null), serde_json::json!("shared")] {
            let err = parse(serde_json::json!({ "visibility": bad }))
                .err()
                .unwrap_or_default();
            assert_eq!(err, ["visibility: must be one of: private, public"]);
        }
    }

    #[test]
    fn blank_notes_clear_them_and_nul_is_refused() {
        let c = parse(serde_json::json!({"notes": "   "})).unwrap_or_default();
        assert_eq!(c.notes, Patch::Clear);
        let err = parse(serde_json::json!({"notes": "a\u{0}b"}))
            .err()
            .unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert!(err[0].starts_with("notes:"));
    }
}
