//! Properties of a plan's changes (`PATCH /plans/{id}`, issue #20): a merge patch keeps what it
//! leaves out, clears what it nulls, and never lets a deadline fall before the start the plan
//! will have, whichever of the two dates the patch gives.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use serde_json::{Value, json};
use syllabus_domain::{PlanChanges, RawPlanChanges};

fn day(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(offset)))
        .unwrap_or_default()
}

/// A date field of a patch: left out, null, or a date.
fn field() -> impl Strategy<Value = Option<Option<u64>>> {
    prop_oneof![
        Just(None),
        Just(Some(None)),
        (0u64..400).prop_map(|d| Some(Some(d)))
    ]
}

fn patch(start: Option<Option<u64>>, deadline: Option<Option<u64>>) -> Value {
    let mut body = json!({});
    for (name, value) in [("start_date", start), ("deadline_date", deadline)] {
        if let Some(v) = value {
            body[name] = v.map_or(Value::Null, |d| json!(day(d).to_string()));
        }
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_dates_after_a_patch_are_kept_cleared_or_set_and_never_inverted(
        current_start in prop::option::of(0u64..400),
        current_deadline in prop::option::of(0u64..400),
        start in field(),
        deadline in field(),
    ) {
        let raw: RawPlanChanges = serde_json::from_value(patch(start, deadline))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected_start = match start { None => current_start, Some(v) => v };
        let expected_deadline = match deadline { None => current_deadline, Some(v) => v };
        let inverted = matches!((expected_start, expected_deadline), (Some(s), Some(d)) if d < s);
        let outcome = PlanChanges::parse(raw)
            .map_err(|e| e.0)
            .and_then(|c| c.dates(current_start.map(day), current_deadline.map(day)));
        match outcome {
            Ok((s, d)) => {
                prop_assert!(!inverted);
                prop_assert_eq!(s, expected_start.map(day));
                prop_assert_eq!(d, expected_deadline.map(day));
            }
            Err(issues) => {
                prop_assert!(inverted);
                let fields: Vec<&str> = issues.as_slice().iter().map(|i| i.path.as_str()).collect();
                prop_assert_eq!(fields, vec!["deadline_date"]);
            }
        }
    }
}
