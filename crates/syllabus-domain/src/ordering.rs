//! Order bookkeeping of a plan's modules and of a module's tasks when a learner edits them by
//! hand (issue #21): moving one item, inserting one, removing one, or moving one from one list
//! to another. Positions are 1-based, as the API's `order`; the result is the new sequence, whose
//! item at index `i` takes position `i + 1`, so order stays exactly 1..N and unique; every item
//! not moved keeps its relative order.

use crate::issues::Issues;

/// A change of a sequence's order. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEdit<T> {
    /// The item at `from` moves to `to` (both 1..N); the items between shift by one.
    Move {
        /// Where it is.
        from: usize,
        /// Where it lands.
        to: usize,
    },
    /// `item` lands at `at` (1..N+1; `None` is last); the items from there shift down.
    Insert {
        /// Where it lands.
        at: Option<usize>,
        /// The new item.
        item: T,
    },
    /// The item at `at` (1..N) goes; the items after it shift up.
    Remove {
        /// Where it is.
        at: usize,
    },
}

/// A position outside the sequence: it must be from 1 to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange {
    /// The highest position allowed (0 when none is).
    pub max: usize,
}

impl OutOfRange {
    /// The issue naming `field`.
    #[must_use]
    pub fn issues(self, field: &str) -> Issues {
        let mut issues = Issues::default();
        issues.push(field, format!("must be from 1 to {}", self.max));
        issues
    }
}

/// Whether `position` is within 1..=`max`; the 0-based index when it is.
fn index(position: usize, max: usize) -> Result<usize, OutOfRange> {
    if (1..=max).contains(&position) {
        Ok(position - 1)
    } else {
        Err(OutOfRange { max })
    }
}

/// The sequence after `edit`.
///
/// # Errors
/// [`OutOfRange`] when a position is outside the sequence (1..N, or 1..N+1 for an insert).
pub fn apply<T>(mut items: Vec<T>, edit: OrderEdit<T>) -> Result<Vec<T>, OutOfRange> {
    let n = items.len();
    match edit {
        OrderEdit::Move { from, to } => {
            let (from, to) = (index(from, n)?, index(to, n)?);
            let item = items.remove(from);
            items.insert(to, item);
        }
        OrderEdit::Insert { at, item } => {
            let at = index(at.unwrap_or(n + 1), n + 1)?;
            items.insert(at, item);
        }
        OrderEdit::Remove { at } => {
            items.remove(index(at, n)?);
        }
    }
    Ok(items)
}

/// Moves the item at `from` (1..N) of `source` into `target` at `to` (1..M+1; `None`: last):
/// both sequences stay 1..N without gaps.
///
/// # Errors
/// [`OutOfRange`] when `from` is outside `source` or `to` outside `target`.
pub fn move_between<T>(
    source: Vec<T>,
    from: usize,
    mut target: Vec<T>,
    to: Option<usize>,
) -> Result<(Vec<T>, Vec<T>), OutOfRange> {
    let mut source = source;
    let item = source.remove(index(from, source.len())?);
    target = apply(target, OrderEdit::Insert { at: to, item })?;
    Ok((source, target))
}

/// Why an edit cannot be made in the plan's state: the count limits of SPEC §1 (a plan has
/// 1–24 modules, a module 1–20 tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountRefusal {
    /// The plan already has the most modules.
    TooManyModules,
    /// The module already has the most tasks.
    TooManyTasks,
    /// The module is the plan's only one.
    LastModule,
    /// The task is its module's only one.
    LastTask,
}

impl CountRefusal {
    /// A sentence for the learner.
    #[must_use]
    pub fn reason(self) -> String {
        use crate::plan::{MAX_MODULES, MAX_TASKS};
        match self {
            Self::TooManyModules => format!("a plan has at most {MAX_MODULES} modules"),
            Self::TooManyTasks => format!("a module has at most {MAX_TASKS} tasks"),
            Self::LastModule => {
                "a plan keeps at least one module: this is its only one (delete the plan instead)"
                    .to_owned()
            }
            Self::LastTask => "a module keeps at least one task: this is its only one \
                               (delete the module instead)"
                .to_owned(),
        }
    }
}

/// Whether a plan with `modules` modules may get one more.
///
/// # Errors
/// [`CountRefusal::TooManyModules`].
pub fn may_add_module(modules: usize) -> Result<(), CountRefusal> {
    if modules < crate::plan::MAX_MODULES {
        Ok(())
    } else {
        Err(CountRefusal::TooManyModules)
    }
}

/// Whether a module with `tasks` tasks may get one more.
///
/// # Errors
/// [`CountRefusal::TooManyTasks`].
pub fn may_add_task(tasks: usize) -> Result<(), CountRefusal> {
    if tasks < crate::plan::MAX_TASKS {
        Ok(())
    } else {
        Err(CountRefusal::TooManyTasks)
    }
}

/// Whether a plan with `modules` modules may lose one.
///
/// # Errors
/// [`CountRefusal::LastModule`].
pub fn may_remove_module(modules: usize) -> Result<(), CountRefusal> {
    if modules > crate::plan::MIN_MODULES {
        Ok(())
    } else {
        Err(CountRefusal::LastModule)
    }
}

/// Whether a module with `tasks` tasks may lose one.
///
/// # Errors
/// [`CountRefusal::LastTask`].
pub fn may_remove_task(tasks: usize) -> Result<(), CountRefusal> {
    if tasks > crate::plan::MIN_TASKS {
        Ok(())
    } else {
        Err(CountRefusal::LastTask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_inserts_and_removes_keep_one_to_n() {
        let abc = vec!['a', 'b', 'c', 'd'];
        let moved = apply(abc.clone(), OrderEdit::Move { from: 1, to: 3 });
        assert_eq!(moved, Ok(vec!['b', 'c', 'a', 'd']));
        let back = apply(abc.clone(), OrderEdit::Move { from: 4, to: 1 });
        assert_eq!(back, Ok(vec!['d', 'a', 'b', 'c']));
        let last = apply(
            abc.clone(),
            OrderEdit::Insert {
                at: None,
                item: 'x',
            },
        );
        assert_eq!(last, Ok(vec!['a', 'b', 'c', 'd', 'x']));
        let first = apply(
            abc.clone(),
            OrderEdit::Insert {
                at: Some(1),
                item: 'x',
            },
        );
        assert_eq!(first, Ok(vec!['x', 'a', 'b', 'c', 'd']));
        assert_eq!(
            apply(abc.clone(), OrderEdit::Remove { at: 2 }),
            Ok(vec!['a', 'c', 'd'])
        );
        assert_eq!(
            move_between(abc, 2, vec!['y'], Some(1)),
            Ok((vec!['a', 'c', 'd'], vec!['b', 'y']))
        );
    }

    #[test]
    fn a_position_outside_the_sequence_is_refused_with_its_range() {
        let abc = vec!['a', 'b', 'c'];
        for edit in [
            OrderEdit::Move { from: 1, to: 4 },
            OrderEdit::Move { from: 0, to: 1 },
            OrderEdit::Remove { at: 4 },
        ] {
            assert_eq!(apply(abc.clone(), edit), Err(OutOfRange { max: 3 }));
        }
        let insert = OrderEdit::Insert {
            at: Some(5),
            item: 'x',
        };
        assert_eq!(apply(abc, insert), Err(OutOfRange { max: 4 }));
        let issues = OutOfRange { max: 3 }.issues("order");
        assert_eq!(issues.to_string(), "order: must be from 1 to 3");
    }

    #[test]
    fn the_counts_of_spec_section_one_bound_adding_and_removing() {
        assert!(may_add_module(23).is_ok());
        assert_eq!(may_add_module(24), Err(CountRefusal::TooManyModules));
        assert!(may_add_task(19).is_ok());
        assert_eq!(may_add_task(20), Err(CountRefusal::TooManyTasks));
        assert_eq!(may_remove_module(1), Err(CountRefusal::LastModule));
        assert!(may_remove_module(2).is_ok());
        assert_eq!(may_remove_task(1), Err(CountRefusal::LastTask));
        assert!(CountRefusal::TooManyModules.reason().contains("24"));
    }
}
