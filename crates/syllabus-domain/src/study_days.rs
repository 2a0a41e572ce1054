//! The weekdays a learner studies on: a non-empty set of [`Weekday`]s, Monday first.

use std::fmt;

use chrono::Weekday;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The wire names of the weekdays, Monday first (index = days from Monday).
const NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A non-empty set of weekdays. On the wire it is a list of lowercase English names in week
/// order (`["monday", "wednesday"]`); in a database it fits a small integer ([`Self::bits`]:
/// bit 0 is Monday, bit 6 Sunday). The default is every day.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StudyDays(u8);

impl StudyDays {
    /// Every day of the week (the default).
    pub const ALL: Self = Self(0b111_1111);

    /// The wire names of the days, Monday first.
    pub const NAMES: [&'static str; 7] = NAMES;

    /// The set of these days; `None` when there are none.
    #[must_use]
    pub fn from_weekdays(days: impl IntoIterator<Item = Weekday>) -> Option<Self> {
        let bits = days
            .into_iter()
            .fold(0u8, |bits, day| bits | (1 << day.num_days_from_monday()));
        Self::from_bits(bits)
    }

    /// The set stored as [`Self::bits`]; `None` for 0 or for bits above Sunday.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits == 0 || bits > Self::ALL.0 {
            None
        } else {
            Some(Self(bits))
        }
    }

    /// The set from wire names (`"monday"` … `"sunday"`, repeats allowed); `Err` with the first
    /// unknown name, or `Ok(None)` for an empty list.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Self>, String> {
        let mut days = Vec::new();
        for name in names {
            let index = NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| name.to_owned())?;
            days.push(weekday(index));
        }
        Ok(Self::from_weekdays(days))
    }

    /// Bit `i` set for the day `i` days after Monday.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the learner studies on `day`.
    #[must_use]
    pub const fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// How many days a week the learner studies: 1–7.
    #[must_use]
    pub const fn count(self) -> u32 {
        self.0.count_ones()
    }

    /// How many study days come before `day` in its week (Monday first).
    #[must_use]
    pub const fn rank(self, day: Weekday) -> u32 {
        let below = (1u8 << day.num_days_from_monday()) - 1;
        (self.0 & below).count_ones()
    }

    /// The days, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7).filter(move |i| self.0 & (1 << i) != 0).map(weekday)
    }

    /// The wire names, Monday first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter()
            .map(|d| NAMES[d.num_days_from_monday() as usize])
    }
}

/// The weekday `index` days after Monday (`index` < 7).
fn weekday(index: usize) -> Weekday {
    let mut day = Weekday::Mon;
    for _ in 0..index {
        day = day.succ();
    }
    day
}

impl Default for StudyDays {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Debug for StudyDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for StudyDays {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for StudyDays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        match Self::from_names(names.iter().map(String::as_str)) {
            Ok(Some(days)) => Ok(days),
            Ok(None) => Err(D::Error::custom("at least one study day is needed")),
            Err(name) => Err(D::Error::custom(format!(
                "unknown weekday {name:?}: must be one of: {}",
                NAMES.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_bits_names_and_json() {
        let days = StudyDays::from_weekdays([Weekday::Sun, Weekday::Mon, Weekday::Wed]);
        assert_eq!(days.map(StudyDays::bits), Some(0b100_0101));
        let Some(days) = days else { return };
        assert_eq!(days.count(), 3);
        assert_eq!(
            days.iter().collect::<Vec<_>>(),
            [Weekday::Mon, Weekday::Wed, Weekday::Sun]
        );
        assert_eq!(days.rank(Weekday::Mon), 0);
        assert_eq!(days.rank(Weekday::Sun), 2);
        let json = serde_json::to_string(&days).unwrap_or_default();
        assert_eq!(json, r#"["monday","wednesday","sunday"]"#);
        assert_eq!(serde_json::from_str::<StudyDays>(&json).ok(), Some(days));
        assert_eq!(StudyDays::from_bits(days.bits()), Some(days));
    }

    #[test]
    fn empty_sets_and_unknown_names_are_refused() {
        assert_eq!(StudyDays::from_weekdays([]), None);
        assert_eq!(StudyDays::from_bits(0), None);
        assert_eq!(StudyDays::from_bits(0b1000_0000), None);
        assert_eq!(
            StudyDays::from_names(["monday", "funday"]),
            Err("funday".into())
        );
        assert!(serde_json::from_str::<StudyDays>("[]").is_err());
        assert!(serde_json::from_str::<StudyDays>(r#"["Monday"]"#).is_err());
        assert_eq!(StudyDays::default(), StudyDays::ALL);
        assert_eq!(StudyDays::ALL.count(), 7);
    }
}
