//! Properties of a call's cost (issue #22): linear in the tokens, never negative, exact on round
//! prices, and a price table reads back what was written.

use proptest::prelude::*;
use syllabus_domain::usage::{Price, PriceTable};

/// Prices up to 1,000 units per million tokens, in nano units.
fn price() -> impl Strategy<Value = Price> {
    (0_u64..=1_000_000_000_000, 0_u64..=1_000_000_000_000).prop_map(|(i, o)| Price {
        input_nanos_per_million: i,
        output_nanos_per_million: o,
    })
}

/// Prices that are multiples of 0.001 unit per million tokens (every published price).
fn round_price() -> impl Strategy<Value = Price> {
    (0_u64..=1_000_000, 0_u64..=1_000_000).prop_map(|(i, o)| Price {
        input_nanos_per_million: i * 1_000_000,
        output_nanos_per_million: o * 1_000_000,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_negative(p in price(), a in 0_u64..10_000_000, b in 0_u64..10_000_000) {
        prop_assert!(p.cost_nanos(a, b) >= 0);
    }

    #[test]
    fn exact_on_round_prices(p in round_price(), a in 0_u64..100_000_000, b in 0_u64..100_000_000) {
        let exact = i128::from(a) * i128::from(p.input_nanos_per_million / 1_000_000)
            + i128::from(b) * i128::from(p.output_nanos_per_million / 1_000_000);
        prop_assert_eq!(i128::from(p.cost_nanos(a, b)), exact);
    }

    #[test]
    fn linear_in_tokens(
        p in price(),
        a1 in 0_u64..10_000_000, b1 in 0_u64..10_000_000,
        a2 in 0_u64..10_000_000, b2 in 0_u64..10_000_000,
    ) {
        let whole = p.cost_nanos(a1 + a2, b1 + b2);
        let parts = p.cost_nanos(a1, b1) + p.cost_nanos(a2, b2);
        // One rounding per call: the parts differ from the whole by at most one nano unit.
        prop_assert!((whole - parts).abs() <= 1, "{whole} vs {parts}");
    }

    #[test]
    fn linear_exactly_on_round_prices(
        p in round_price(),
        a1 in 0_u64..10_000_000, b1 in 0_u64..10_000_000,
        a2 in 0_u64..10_000_000, b2 in 0_u64..10_000_000,
        k in 0_u64..1_000,
    ) {
        prop_assert_eq!(
            p.cost_nanos(a1 + a2, b1 + b2),
            p.cost_nanos(a1, b1) + p.cost_nanos(a2, b2)
        );
        prop_assert_eq!(p.cost_nanos(k * a1, k * b1), i64::try_from(k).unwrap() * p.cost_nanos(a1, b1));
    }

    #[test]
    fn a_written_table_reads_back(
        units in proptest::collection::btree_map("[a-z][a-z0-9.-]{0,12}", (0_u64..100_000, 0_u32..1_000_000_000, 0_u64..100_000, 0_u32..1_000_000_000), 0..6)
    ) {
        let text = units
            .iter()
            .map(|(m, (iw, if_, ow, of))| format!("{m}={iw}.{if_:09}/{ow}.{of:09}"))
            .collect::<Vec<_>>()
            .join(",");
        let table = PriceTable::parse(&text).unwrap();
        for (m, (iw, if_, ow, of)) in &units {
            let p = table.price(m).unwrap();
            prop_assert_eq!(p.input_nanos_per_million, iw * 1_000_000_000 + u64::from(*if_));
            prop_assert_eq!(p.output_nanos_per_million, ow * 1_000_000_000 + u64::from(*of));
        }
    }
}
