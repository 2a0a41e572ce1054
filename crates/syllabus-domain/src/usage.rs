//! What provider calls cost and what a user may spend (issue #22): the price table
//! (`LLM_PRICES`), a call's cost in exact integer arithmetic, the calendar month of the monthly
//! token budget and the bounds of a usage report's date range.
//!
//! Money is counted in **nano currency units** (10⁻⁹ of a unit; `i64` holds ±9.2·10⁹ units).
//! A price is kept as nano units per million tokens, so a price written with up to 9 decimals
//! is exact. A call's cost is `(prompt · in + completion · out) / 10⁶` in nano units, computed
//! in `u128` and rounded half up once, on the sum: exact whenever the prices are multiples of
//! 0.001 unit per million tokens (every published price), within half a nano unit otherwise.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

/// Nano units in one currency unit.
pub const NANOS_PER_UNIT: i64 = 1_000_000_000;

/// The largest price accepted, in currency units per million tokens.
const MAX_PRICE_UNITS: u64 = 1_000_000;

/// A model's price: nano currency units per million input (prompt) and output (completion)
/// tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Per million prompt tokens, in nano units.
    pub input_nanos_per_million: u64,
    /// Per million completion tokens, in nano units.
    pub output_nanos_per_million: u64,
}

impl Price {
    /// The cost of a call in nano units (see the module's rounding rule).
    #[must_use]
    pub fn cost_nanos(self, prompt_tokens: u64, completion_tokens: u64) -> i64 {
        let sum = u128::from(prompt_tokens) * u128::from(self.input_nanos_per_million)
            + u128::from(completion_tokens) * u128::from(self.output_nanos_per_million);
        let rounded = (sum + 500_000) / 1_000_000;
        i64::try_from(rounded).unwrap_or(i64::MAX)
    }
}

/// Prices per model, as `LLM_PRICES` gives them: `model=in/out,model=in/out`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl PriceTable {
    /// Parses `gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10`: currency units per million input and
    /// output tokens, non-negative decimals with at most 9 decimals and at most 1,000,000; a
    /// model named once. Blank is an empty table.
    ///
    /// # Errors
    /// A sentence naming the part that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut table = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, prices) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not model=input/output"))?;
            let model = model.trim();
            if model.is_empty() {
                return Err(format!("`{part}` names no model"));
            }
            let (input, output) = prices
                .split_once('/')
                .ok_or_else(|| format!("`{part}`: the price is not input/output"))?;
            let price = Price {
                input_nanos_per_million: parse_units(input.trim())
                    .ok_or_else(|| format!("`{part}`: `{input}` is not a price"))?,
                output_nanos_per_million: parse_units(output.trim())
                    .ok_or_else(|| format!("`{part}`: `{output}` is not a price"))?,
            };
            if table.insert(model.to_owned(), price).is_some() {
                return Err(format!("`{model}` is priced twice"));
            }
        }
        Ok(Self(table))
    }

    /// A model's price, if it has one.
    #[must_use]
    pub fn price(&self, model: &str) -> Option<Price> {
        self.0.get(model).copied()
    }

    /// Whether no model has a price.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `12.345` (units) as nano units; `None` unless a plain non-negative decimal of at most 9
/// decimals and at most [`MAX_PRICE_UNITS`].
fn parse_units(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    if whole > MAX_PRICE_UNITS {
        return None;
    }
    let mut nanos = 0_u64;
    for (i, b) in fraction.bytes().enumerate() {
        let place = 10_u64.pow(8 - u32::try_from(i).ok()?);
        nanos += u64::from(b - b'0') * place;
    }
    let total = whole * 1_000_000_000 + nanos;
    (total <= MAX_PRICE_UNITS * 1_000_000_000).then_some(total)
}

/// Nano units as a decimal number of currency units (for reports).
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn nanos_to_units(nanos: i64) -> f64 {
    let whole = nanos / NANOS_PER_UNIT;
    let rest = nanos % NANOS_PER_UNIT;
    whole as f64 + rest as f64 / 1e9
}

/// The first day (UTC) of the month of `day`.
#[must_use]
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// When the monthly budget of the month holding `now` resets: the 1st of the next month,
/// 00:00 UTC.
#[must_use]
pub fn budget_resets_at(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now.date_naive();
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now, |t| Utc.from_utc_datetime(&t))
}

/// Whether a user who used `used` tokens this month may create a job under `budget`.
#[must_use]
pub const fn within_budget(used: u64, budget: Option<u64>) -> bool {
    match budget {
        Some(b) => used < b,
        None => true,
    }
}

/// The longest usage report, in days (both ends included).
pub const MAX_REPORT_DAYS: i64 = 366;

/// Why a usage report's range is refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    /// `from` or `to`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A usage report's range, both ends included (UTC days): default from the first day of
/// `today`'s month to `today`; `to` before `from`, or more than [`MAX_REPORT_DAYS`] days,
/// refused naming `to`.
///
/// # Errors
/// [`RangeError`].
pub fn report_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), RangeError> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| month_start(to.min(today)));
    if to < from {
        return Err(RangeError {
            field: "to",
            message: "must not be before `from`".into(),
        });
    }
    if (to - from).num_days() + 1 > MAX_REPORT_DAYS {
        return Err(RangeError {
            field: "to",
            message: format!("the range spans more than {MAX_REPORT_DAYS} days"),
        });
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let t = PriceTable::parse("gpt-4o-mini=0.15/0.60, gpt-4o=2.50/10").unwrap();
        assert_eq!(
            t.price("gpt-4o-mini"),
            Some(Price {
                input_nanos_per_million: 150_000_000,
                output_nanos_per_million: 600_000_000
            })
        );
        assert_eq!(
            t.price("gpt-4o").unwrap().output_nanos_per_million,
            10_000_000_000
        );
        assert_eq!(t.price("other"), None);
        assert!(PriceTable::parse("").unwrap().is_empty());
    }

    #[test]
    fn refuses_malformed_tables() {
        for bad in [
            "gpt",
            "=1/2",
            "m=1",
            "m=1/",
            "m=/2",
            "m=-1/2",
            "m=1e3/2",
            "m=1./2",
            "m=.5/2",
            "m=0.1234567891/1",
            "m=1/2,m=3/4",
            "m=1000001/1",
            "m=1,5/2",
        ] {
            assert!(PriceTable::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cost_of_a_call() {
        let p = PriceTable::parse("m=0.15/0.60")
            .unwrap()
            .price("m")
            .unwrap();
        // 120·0.15 + 480·0.60 per million = 0.000306 units.
        assert_eq!(p.cost_nanos(120, 480), 306_000);
        assert_eq!(nanos_to_units(306_000), 0.000_306);
        let half = Price {
            input_nanos_per_million: 500_000,
            output_nanos_per_million: 0,
        };
        assert_eq!(half.cost_nanos(1, 0), 1, "half a nano rounds up");
        assert_eq!(half.cost_nanos(0, 5), 0);
    }

    #[test]
    fn budget_month() {
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(
            budget_resets_at(t),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        let t = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        assert_eq!(
            budget_resets_at(t),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        assert!(within_budget(99, Some(100)));
        assert!(!within_budget(100, Some(100)));
        assert!(within_budget(u64::MAX, None));
    }

    #[test]
    fn report_ranges() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-12-05");
        assert_eq!(
            report_range(None, None, today),
            Ok((d("2026-12-01"), today))
        );
        assert_eq!(
            report_range(Some(d("2026-01-01")), Some(d("2026-12-31")), today),
            Ok((d("2026-01-01"), d("2026-12-31")))
        );
        assert_eq!(
            report_range(Some(d("2026-01-01")), Some(d("2027-01-02")), today)
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(
            report_range(Some(d("2026-12-06")), None, today)
                .unwrap_err()
                .field,
            "to"
        );
    }
}
