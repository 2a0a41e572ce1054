use super::*;
use proptest::prelude::*;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap_or_default()
}

fn settings(n: u32) -> BreakerSettings {
    BreakerSettings {
        failures: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
        window: Duration::from_secs(60),
        cooldown: Duration::from_secs(600),
        probe_lease: Duration::from_secs(60),
    }
}

/// The state after counted failures at each of `times` (ms), from healthy.
fn after_failures(s: &BreakerSettings, times: &[i64]) -> BreakerState {
    times.iter().fold(BreakerState::healthy(), |state, t| {
        s.record(at(*t), &state, true, false).state
    })
}

/// The state just after the breaker opened at `opened` (ms).
fn opened(s: &BreakerSettings, opened: i64) -> BreakerState {
    let n = i64::from(s.failures.get());
    after_failures(s, &(0..n).map(|i| opened - (n - 1 - i)).collect::<Vec<_>>())
}

#[test]
fn five_failures_in_a_minute_open_it_and_name_the_changes() {
    let s = BreakerSettings::default();
    let mut state = BreakerState::healthy();
    let mut changes = Vec::new();
    for t in [0, 10_000, 20_000, 30_000, 40_000] {
        let step = s.record(at(t), &state, true, false);
        changes.extend(step.changes);
        state = step.state;
    }
    assert_eq!(state.phase, Phase::Failover);
    assert_eq!(state.until, Some(at(40_000 + 600_000)));
    assert_eq!(
        changes,
        vec![
            Change {
                from: Phase::Healthy,
                to: Phase::Degraded,
                cause: Cause::Failure
            },
            Change {
                from: Phase::Degraded,
                to: Phase::Failover,
                cause: Cause::Threshold
            },
        ]
    );
}

#[test]
fn degraded_heals_when_the_window_passes_not_on_a_success() {
    let s = settings(3);
    let state = after_failures(&s, &[0, 1_000]);
    assert_eq!(state.phase, Phase::Degraded);
    let answered = s.record(at(2_000), &state, false, false);
    assert_eq!(
        answered.state.phase,
        Phase::Degraded,
        "a success changes nothing"
    );
    let later = s.settle(at(61_000), &state);
    assert_eq!(later.state, BreakerState::healthy());
    assert_eq!(later.changes[0].cause, Cause::WindowPassed);
    // A failure exactly one window after the first: the first has left the window.
    let state = after_failures(&s, &[0, 1_000, 60_000]);
    assert_eq!(state.phase, Phase::Degraded);
}

#[test]
fn the_probe_closes_or_reopens_and_without_a_fallback_calls_stay_on_the_primary() {
    let s = settings(1);
    let open = opened(&s, 0);
    assert_eq!(s.route(at(1), &open, false).0, Route::Primary);
    assert_eq!(s.route(at(1), &open, true).0, Route::Fallback);
    let (route, probing) = s.route(at(600_000), &open, true);
    assert_eq!(route, Route::Probe);
    assert_eq!(probing.changes[0].cause, Cause::CooldownOver);
    let closed = s.record(at(600_500), &probing.state, false, true);
    assert_eq!(closed.state, BreakerState::healthy());
    let reopened = s.record(at(600_500), &probing.state, true, true);
    assert_eq!(reopened.state.phase, Phase::Failover);
    assert_eq!(reopened.state.until, Some(at(1_200_500)));
    // A validation answer is no counted failure.
    assert!(!counts(Some(FailureClass::Validation)) && !counts(None));
    assert!(counts(Some(FailureClass::Timeout)) && counts(Some(FailureClass::RateLimit)));
}

#[test]
fn a_crashed_probe_frees_its_claim_after_the_lease() {
    let s = settings(1);
    let (_, probing) = s.route(at(600_000), &opened(&s, 0), true);
    assert_eq!(
        s.route(at(659_999), &probing.state, true).0,
        Route::Fallback
    );
    assert_eq!(s.route(at(660_000), &probing.state, true).0, Route::Probe);
}

#[test]
fn phases_round_trip_and_gauge_in_order() {
    for (i, p) in Phase::ALL.into_iter().enumerate() {
        assert_eq!(Phase::parse(p.as_str()), Some(p));
        assert_eq!(p.gauge(), i64::try_from(i).unwrap_or(-1));
    }
    assert_eq!(Phase::parse("open"), None);
}

/// One event on the breaker: a route at `t`, or the end of a primary call at `t`.
#[derive(Debug, Clone)]
enum Event {
    Route,
    End { failed: bool, probe: bool },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Route),
        (any::<bool>(), any::<bool>()).prop_map(|(failed, probe)| Event::End { failed, probe }),
    ]
}

proptest! {
    /// Fewer than N counted failures within any window never open the breaker, and a failure
    /// never leaves it healthy.
    #[test]
    fn fewer_than_n_failures_in_a_window_never_open_it(
        n in 2u32..8,
        gaps in proptest::collection::vec(0i64..200_000, 1..40),
    ) {
        let s = settings(n);
        let window = 60_000;
        let mut t = 0;
        let mut times = Vec::new();
        let mut state = BreakerState::healthy();
        for gap in gaps {
            t += gap;
            // Only add a failure if the window ending now would hold fewer than N.
            let inside = times.iter().filter(|x| t - **x < window).count();
            if inside + 1 >= n as usize {
                continue;
            }
            times.push(t);
            let step = s.record(at(t), &state, true, false);
            prop_assert_eq!(step.state.phase, Phase::Degraded);
            prop_assert!(step.state.failures.len() < n as usize);
            state = step.state;
        }
    }

    /// N counted failures within one window always open it, whatever came before, with the
    /// cooldown counted from the last of them.
    #[test]
    fn n_failures_in_a_window_always_open_it(
        n in 1u32..8,
        before in proptest::collection::vec(0i64..100_000, 0..10),
        offsets in proptest::collection::vec(0i64..59_999, 8),
        answered in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let s = settings(n);
        let mut t = 0;
        let mut state = BreakerState::healthy();
        for gap in before {
            t += gap;
            state = s.record(at(t), &state, false, false).state;
        }
        // Leave any earlier state: start from a settled, closed breaker.
        let mut state = if state.phase == Phase::Failover { BreakerState::healthy() } else { state };
        let start = t + 1;
        let mut offsets: Vec<i64> = offsets.into_iter().take(n as usize).collect();
        offsets.sort_unstable();
        for (i, off) in offsets.iter().enumerate() {
            // Successes in between change nothing.
            if answered[i] {
                state = s.record(at(start + off), &state, false, false).state;
            }
            state = s.record(at(start + off), &state, true, false).state;
        }
        let last = start + offsets.last().copied().unwrap_or(0);
        prop_assert_eq!(state.phase, Phase::Failover);
        prop_assert_eq!(state.until, Some(at(last + 600_000)));
    }

    /// While the cooldown runs every call goes to the fallback; once it ends exactly one call
    /// at a time is the probe (until the probe ends or its lease runs out), and a failed probe
    /// reopens the breaker for a whole new cooldown.
    #[test]
    fn cooldown_respected_one_probe_at_a_time_failed_probe_reopens(
        n in 1u32..6,
        events in proptest::collection::vec((0i64..30_000, event()), 1..80),
    ) {
        let s = settings(n);
        let mut state = opened(&s, 0);
        let mut t = 0;
        let mut probe_out: Option<i64> = None;
        for (gap, e) in events {
            t += gap;
            let before = state.clone();
            match e {
                Event::Route => {
                    let (route, step) = s.route(at(t), &state, true);
                    if before.phase == Phase::Failover
                        && before.until.is_some_and(|until| at(t) < until)
                    {
                        prop_assert_eq!(route, Route::Fallback, "cooldown respected");
                    }
                    if route == Route::Probe {
                        prop_assert!(
                            probe_out.is_none_or(|since| t - since >= 60_000),
                            "a second probe while one is out"
                        );
                        probe_out = Some(t);
                    }
                    state = step.state;
                }
                Event::End { failed, probe } => {
                    let probe = probe && probe_out.is_some();
                    let settled = s.settle(at(t), &state).state;
                    let step = s.record(at(t), &state, failed, probe);
                    if probe && settled.phase == Phase::Recovery {
                        probe_out = None;
                        if failed {
                            prop_assert_eq!(step.state.phase, Phase::Failover);
                            prop_assert_eq!(step.state.until, Some(at(t + 600_000)));
                        } else {
                            prop_assert_eq!(&step.state, &BreakerState::healthy());
                        }
                    }
                    if step.state.phase == Phase::Healthy {
                        probe_out = None;
                    }
                    state = step.state;
                }
            }
            // The stored shape always matches its phase.
            match state.phase {
                Phase::Healthy => prop_assert!(state.failures.is_empty()),
                Phase::Degraded => {
                    prop_assert!(!state.failures.is_empty());
                    prop_assert!(state.failures.len() < n as usize);
                }
                Phase::Failover => prop_assert!(state.until.is_some()),
                Phase::Recovery => prop_assert!(state.until.is_none()),
            }
        }
    }
}
