//! The settings of issue #23's webhooks: `WEBHOOK_ALLOW_LOOPBACK`, `WEBHOOK_TIMEOUT_MS`,
//! `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_RETRY_WINDOW_MS`. Read by every process: the API checks
//! URLs with the first, the workers deliver with all of them.

use syllabus_domain::webhooks::{DeliverySettings, MAX_GAP, RetrySchedule};

use super::{Env, MAX_DAY_MS};

/// Longest attempt deadline (10 minutes): a receiver is expected to answer in seconds.
const MAX_TIMEOUT_MS: u64 = 600_000;
/// Longest retry window (7 days).
const MAX_WINDOW_MS: u64 = 7 * MAX_DAY_MS;

/// The delivery settings over [`DeliverySettings::default`].
pub(super) fn webhooks(env: &Env) -> anyhow::Result<DeliverySettings> {
    let d = DeliverySettings::default();
    let max_gap_ms = u64::try_from(MAX_GAP.as_millis()).unwrap_or(u64::MAX);
    Ok(DeliverySettings {
        allow_loopback: env.boolean("WEBHOOK_ALLOW_LOOPBACK", d.allow_loopback)?,
        timeout: env.millis("WEBHOOK_TIMEOUT_MS", d.timeout, 100, MAX_TIMEOUT_MS)?,
        schedule: RetrySchedule {
            base: env.millis("WEBHOOK_RETRY_BASE_MS", d.schedule.base, 1, max_gap_ms)?,
            window: env.millis(
                "WEBHOOK_RETRY_WINDOW_MS",
                d.schedule.window,
                1,
                MAX_WINDOW_MS,
            )?,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Env, serve, worker};
    use super::webhooks;

    const BASE: [(&str, &str); 3] = [
        ("DATABASE_URL", "postgres://u@localhost/db"),
        ("AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
    ];

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        Env::from_pairs(&pairs)
    }

    #[test]
    fn defaults_refuse_loopback_and_retry_for_a_day_from_five_seconds() {
        let s = webhooks(&env(&[])).ok();
        assert_eq!(s.map(|s| s.allow_loopback), Some(false));
        assert_eq!(s.map(|s| s.timeout), Some(Duration::from_secs(10)));
        assert_eq!(s.map(|s| s.schedule.base), Some(Duration::from_secs(5)));
        assert_eq!(
            s.map(|s| s.schedule.window),
            Some(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn the_settings_reach_the_api_and_the_workers() {
        let e = env(&[
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
            ("WEBHOOK_TIMEOUT_MS", "2500"),
            ("WEBHOOK_RETRY_BASE_MS", "200"),
            ("WEBHOOK_RETRY_WINDOW_MS", "60000"),
        ]);
        let served = serve(&e).ok();
        assert_eq!(
            served
                .as_ref()
                .and_then(|c| c.http.as_ref())
                .map(|h| h.settings.webhooks_allow_loopback),
            Some(true)
        );
        let w = worker(&e)
            .ok()
            .and_then(|c| c.workers)
            .map(|w| w.runtime.webhooks);
        assert_eq!(w.map(|w| w.allow_loopback), Some(true));
        assert_eq!(w.map(|w| w.timeout), Some(Duration::from_millis(2_500)));
        assert_eq!(w.map(|w| w.schedule.base), Some(Duration::from_millis(200)));
        assert_eq!(w.map(|w| w.schedule.window), Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("WEBHOOK_ALLOW_LOOPBACK", "maybe"),
            ("WEBHOOK_TIMEOUT_MS", "0"),
            ("WEBHOOK_TIMEOUT_MS", "600001"),
            ("WEBHOOK_RETRY_BASE_MS", "3600001"),
            ("WEBHOOK_RETRY_WINDOW_MS", "x"),
        ] {
            let err = serve(&env(&[(name, value)])).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.starts_with(name)),
                "{name}={value}: {err:?}"
            );
        }
    }
}
