//! Properties of hand edits' order bookkeeping (issue #21): after a move, an insert, a removal or
//! a move between two lists, every item is still there exactly once, positions are 1..N, the
//! moved or new item lands where asked, and the others keep their relative order.

use proptest::prelude::*;
use syllabus_domain::ordering::{OrderEdit, OutOfRange, apply, move_between};

/// Items `0..n` as their ids.
fn items(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// `list` without `item`, in order.
fn without(list: &[usize], item: usize) -> Vec<usize> {
    list.iter().copied().filter(|&x| x != item).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_move_lands_where_asked_and_keeps_the_others_in_order(
        n in 0usize..30, from in 0usize..32, to in 0usize..32,
    ) {
        let before = items(n);
        match apply(before.clone(), OrderEdit::Move { from, to }) {
            Ok(after) => {
                prop_assert!((1..=n).contains(&from) && (1..=n).contains(&to));
                let moved = before[from - 1];
                prop_assert_eq!(after.len(), n);
                prop_assert_eq!(after[to - 1], moved);
                prop_assert_eq!(without(&after, moved), without(&before, moved));
            }
            Err(OutOfRange { max }) => {
                prop_assert_eq!(max, n);
                prop_assert!(!(1..=n).contains(&from) || !(1..=n).contains(&to));
            }
        }
    }

    #[test]
    fn an_insert_lands_where_asked_or_last(
        n in 0usize..30, at in prop::option::of(0usize..33),
    ) {
        let before = items(n);
        let new = usize::MAX;
        match apply(before.clone(), OrderEdit::Insert { at, item: new }) {
            Ok(after) => {
                let at = at.unwrap_or(n + 1);
                prop_assert!((1..=n + 1).contains(&at));
                prop_assert_eq!(after.len(), n + 1);
                prop_assert_eq!(after[at - 1], new);
                prop_assert_eq!(without(&after, new), before);
            }
            Err(OutOfRange { max }) => {
                prop_assert_eq!(max, n + 1);
                prop_assert!(at.is_some_and(|a| !(1..=n + 1).contains(&a)));
            }
        }
    }

    #[test]
    fn a_removal_closes_the_gap(n in 0usize..30, at in 0usize..32) {
        let before = items(n);
        match apply(before.clone(), OrderEdit::Remove { at }) {
            Ok(after) => {
                prop_assert!((1..=n).contains(&at));
                prop_assert_eq!(after.len(), n - 1);
                prop_assert_eq!(after, without(&before, before[at - 1]));
            }
            Err(OutOfRange { max }) => {
                prop_assert_eq!(max, n);
                prop_assert!(!(1..=n).contains(&at));
            }
        }
    }

    #[test]
    fn a_move_between_lists_keeps_every_item_once(
        n in 1usize..21, m in 0usize..21, from in 1usize..21, to in prop::option::of(0usize..23),
    ) {
        prop_assume!(from <= n);
        let source = items(n);
        let target: Vec<usize> = (100..100 + m).collect();
        let moved = source[from - 1];
        match move_between(source.clone(), from, target.clone(), to) {
            Ok((s, t)) => {
                let to = to.unwrap_or(m + 1);
                prop_assert_eq!(s, without(&source, moved));
                prop_assert_eq!(t.len(), m + 1);
                prop_assert_eq!(t[to - 1], moved);
                prop_assert_eq!(without(&t, moved), target);
            }
            Err(OutOfRange { max }) => {
                prop_assert_eq!(max, m + 1);
                prop_assert!(to.is_some_and(|t| !(1..=m + 1).contains(&t)));
            }
        }
    }
}
