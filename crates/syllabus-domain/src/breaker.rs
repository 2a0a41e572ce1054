//! The circuit breaker of the primary provider (issue #22): after repeated `provider_error`,
//! `rate_limit` or `timeout` failures of the primary within a window, calls move to the fallback
//! provider until a cooldown ends; then ONE call at a time (the probe) tries the primary again:
//! its success closes the breaker, its failure opens it again for another cooldown.
//!
//! ```text
//! healthy ──counted failure──▶ degraded ──N failures within the window──▶ failover
//!    ▲                            │                                          │ cooldown over
//!    ├──────window passed─────────┘                                          ▼
//!    └────────────────probe answered──────────────────────────────────── recovery
//!                                                 failover ◀──probe failed──┘
//! ```
//!
//! The arithmetic only: the store keeps the state in PostgreSQL (one row per primary, read and
//! changed under its row lock in one short transaction) and asks these functions. A state read
//! later than it was written is first [`BreakerSettings::settle`]d to the time of reading
//! (failures older than the window forgotten, an ended cooldown turned into recovery, an expired
//! probe lease freed).
//!
//! Choices: a success does NOT end `degraded` (only the window does), so a provider failing
//! half of its calls still opens the breaker, and a success costs no write. Only a call to the
//! primary counts; a fallback's failures never move the primary's breaker.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::FailureClass;

/// `LLM_BREAKER_FAILURES` unless set.
pub const DEFAULT_FAILURES: u32 = 5;
/// `LLM_BREAKER_WINDOW_MS` unless set.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// `LLM_BREAKER_COOLDOWN_MS` unless set (10 minutes).
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(600);
/// How long a probe holds its claim unless it reports before: a probe whose process crashed
/// frees the claim after this (a call's longest deadline is far shorter).
pub const DEFAULT_PROBE_LEASE: Duration = Duration::from_secs(60);

/// The breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Counted failures of the primary within [`BreakerSettings::window`] that open it.
    pub failures: NonZeroU32,
    /// The sliding window the failures are counted in.
    pub window: Duration,
    /// How long calls go to the fallback once it opened.
    pub cooldown: Duration,
    /// How long a probe's claim lasts at most.
    pub probe_lease: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: NonZeroU32::new(DEFAULT_FAILURES).unwrap_or(NonZeroU32::MIN),
            window: DEFAULT_WINDOW,
            cooldown: DEFAULT_COOLDOWN,
            probe_lease: DEFAULT_PROBE_LEASE,
        }
    }
}

/// The breaker's phase (its gauge value in /metrics in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// (0) No counted failure within the window: calls go to the primary.
    Healthy,
    /// (1) Some counted failures within the window, fewer than the threshold: calls still go to
    /// the primary.
    Degraded,
    /// (2) Open: calls go to the fallback until the cooldown ends.
    Failover,
    /// (3) The cooldown ended: one call at a time probes the primary, the others use the
    /// fallback.
    Recovery,
}

impl Phase {
    /// Every phase, in gauge order.
    pub const ALL: [Self; 4] = [
        Self::Healthy,
        Self::Degraded,
        Self::Failover,
        Self::Recovery,
    ];

    /// Its name (the database column, logs).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Failover => "failover",
            Self::Recovery => "recovery",
        }
    }

    /// The phase named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Its value in the `syllabus_provider_breaker_state` gauge: 0 healthy, 1 degraded,
    /// 2 failover, 3 recovery.
    #[must_use]
    pub const fn gauge(self) -> i64 {
        match self {
            Self::Healthy => 0,
            Self::Degraded => 1,
            Self::Failover => 2,
            Self::Recovery => 3,
        }
    }
}

/// The breaker's state as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerState {
    /// The phase.
    pub phase: Phase,
    /// `healthy`/`degraded`: the counted failures still in the window, oldest first (fewer
    /// than the threshold); empty otherwise.
    pub failures: Vec<DateTime<Utc>>,
    /// `failover`: when the cooldown ends.
    pub until: Option<DateTime<Utc>>,
    /// `recovery`: until when the probe under way holds its claim (`None`: no probe out).
    pub probe_until: Option<DateTime<Utc>>,
}

impl Default for BreakerState {
    fn default() -> Self {
        Self::healthy()
    }
}

impl BreakerState {
    /// Closed, nothing counted.
    #[must_use]
    pub const fn healthy() -> Self {
        Self {
            phase: Phase::Healthy,
            failures: Vec::new(),
            until: None,
            probe_until: None,
        }
    }

    /// When the phase ends by itself without any call: a failover's cooldown end, a degraded
    /// breaker's last failure leaving the window; `None` for the other phases. Stored beside
    /// the state, so that a reader without the settings (the metrics) sees the phase as it
    /// stands.
    #[must_use]
    pub fn expires(&self, settings: &BreakerSettings) -> Option<DateTime<Utc>> {
        match self.phase {
            Phase::Failover => self.until,
            Phase::Degraded => self.failures.last().map(|at| plus(*at, settings.window)),
            Phase::Healthy | Phase::Recovery => None,
        }
    }

    fn failover(until: DateTime<Utc>) -> Self {
        Self {
            phase: Phase::Failover,
            failures: Vec::new(),
            until: Some(until),
            probe_until: None,
        }
    }
}

/// Where one call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the primary.
    Primary,
    /// To the primary, as the recovery's one probe: its outcome closes or reopens the breaker.
    Probe,
    /// To the fallback.
    Fallback,
}

impl Route {
    /// Whether the call goes to the primary.
    #[must_use]
    pub const fn is_primary(self) -> bool {
        matches!(self, Self::Primary | Self::Probe)
    }

    /// Its name in logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Probe => "probe",
            Self::Fallback => "fallback",
        }
    }
}

/// Why the phase changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A counted failure of the primary.
    Failure,
    /// The threshold of counted failures within the window was reached.
    Threshold,
    /// The window passed without reaching the threshold.
    WindowPassed,
    /// The cooldown ended.
    CooldownOver,
    /// The probe's call was answered.
    ProbeAnswered,
    /// The probe's call failed (a counted failure).
    ProbeFailed,
}

impl Cause {
    /// Its name in logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Threshold => "failures_in_window",
            Self::WindowPassed => "window_passed",
            Self::CooldownOver => "cooldown_over",
            Self::ProbeAnswered => "probe_answered",
            Self::ProbeFailed => "probe_failed",
        }
    }
}

/// One change of phase, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The phase before.
    pub from: Phase,
    /// The phase after.
    pub to: Phase,
    /// Why.
    pub cause: Cause,
}

/// A state after a step and the phase changes it took (at most two: a settle, then the step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The state to store.
    pub state: BreakerState,
    /// The phase changes, in order.
    pub changes: Vec<Change>,
}

impl Step {
    fn push(&mut self, to: BreakerState, cause: Cause) {
        if to.phase != self.state.phase {
            self.changes.push(Change {
                from: self.state.phase,
                to: to.phase,
                cause,
            });
        }
        self.state = to;
    }
}

/// Whether a call's outcome counts toward opening the breaker: `provider_error`, `rate_limit`
/// and `timeout` only (never a `validation` answer or a success: the provider answered).
#[must_use]
pub const fn counts(class: Option<FailureClass>) -> bool {
    matches!(
        class,
        Some(FailureClass::ProviderError | FailureClass::RateLimit | FailureClass::Timeout)
    )
}

fn plus(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl BreakerSettings {
    /// `state` as it stands at `now`: failures that left the window forgotten (`degraded` →
    /// `healthy` when none is left), an ended cooldown turned into `recovery`, an expired probe
    /// claim freed.
    #[must_use]
    pub fn settle(&self, now: DateTime<Utc>, state: &BreakerState) -> Step {
        let mut step = Step {
            state: state.clone(),
            changes: Vec::new(),
        };
        match state.phase {
            Phase::Healthy | Phase::Degraded => {
                let mut failures = state.failures.clone();
                // A failure at `at` counts in every window `(t − window, t]` with `t ≥ at`.
                failures.retain(|at| plus(*at, self.window) > now);
                let phase = if failures.is_empty() {
                    Phase::Healthy
                } else {
                    Phase::Degraded
                };
                let next = BreakerState {
                    phase,
                    failures,
                    until: None,
                    probe_until: None,
                };
                step.push(next, Cause::WindowPassed);
            }
            Phase::Failover => {
                if state.until.is_none_or(|until| until <= now) {
                    let next = BreakerState {
                        phase: Phase::Recovery,
                        failures: Vec::new(),
                        until: None,
                        probe_until: None,
                    };
                    step.push(next, Cause::CooldownOver);
                }
            }
            Phase::Recovery => {
                if state.probe_until.is_some_and(|until| until <= now) {
                    step.state.probe_until = None;
                }
            }
        }
        step
    }

    /// Where a call made at `now` goes, and the state once it is on its way (a probe claims
    /// the recovery until [`BreakerSettings::probe_lease`] from now). Without a fallback the
    /// breaker still moves (the gauge and the log show the primary failing), but every call
    /// goes to the primary: there is nowhere else to send it.
    #[must_use]
    pub fn route(&self, now: DateTime<Utc>, state: &BreakerState, fallback: bool) -> (Route, Step) {
        let mut step = self.settle(now, state);
        let route = match step.state.phase {
            Phase::Healthy | Phase::Degraded => Route::Primary,
            Phase::Failover => Route::Fallback,
            Phase::Recovery if step.state.probe_until.is_none() => {
                step.state.probe_until = Some(plus(now, self.probe_lease));
                Route::Probe
            }
            Phase::Recovery => Route::Fallback,
        };
        let route = match route {
            Route::Fallback if !fallback => Route::Primary,
            other => other,
        };
        (route, step)
    }

    /// The state after a call to the primary that ended at `now`: `failed` is a counted
    /// failure ([`counts`]), `probe` whether it was the recovery's probe. A counted failure in
    /// `healthy`/`degraded` is counted (the threshold within the window opens the breaker);
    /// the probe's answer closes it, its failure opens it again for another cooldown. Any
    /// other outcome (a success outside recovery, a call that started before the breaker
    /// opened and ends during failover) changes nothing.
    #[must_use]
    pub fn record(
        &self,
        now: DateTime<Utc>,
        state: &BreakerState,
        failed: bool,
        probe: bool,
    ) -> Step {
        let mut step = self.settle(now, state);
        match step.state.phase {
            Phase::Healthy | Phase::Degraded if failed => {
                let mut failures = step.state.failures.clone();
                failures.push(now);
                failures.sort();
                let threshold = usize::try_from(self.failures.get()).unwrap_or(usize::MAX);
                if failures.len() >= threshold {
                    step.push(
                        BreakerState::failover(plus(now, self.cooldown)),
                        Cause::Threshold,
                    );
                } else {
                    let next = BreakerState {
                        phase: Phase::Degraded,
                        failures,
                        until: None,
                        probe_until: None,
                    };
                    step.push(next, Cause::Failure);
                }
            }
            Phase::Recovery if probe && failed => {
                step.push(
                    BreakerState::failover(plus(now, self.cooldown)),
                    Cause::ProbeFailed,
                );
            }
            Phase::Recovery if probe => step.push(BreakerState::healthy(), Cause::ProbeAnswered),
            _ => {}
        }
        step
    }
}

#[cfg(test)]
mod tests;
