//! The environment read into settings: defaults, ranges, and one-line refusals naming the
//! variable.

use std::num::NonZeroU32;

use super::*;
use crate::app::{Config, HttpConfig, WorkersConfig};

mod fallback;

const DB: (&str, &str) = ("DATABASE_URL", "postgres://localhost/x");
const SECRET: (&str, &str) = ("AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef");
const KEY: (&str, &str) = ("OPENAI_API_KEY", "sk-test");

#[test]
fn serve_defaults_follow_the_spec() {
    let cfg = serve(&Env::from_pairs(&[DB, SECRET, KEY])).unwrap();
    assert_eq!(http(&cfg).bind_addr.to_string(), "127.0.0.1:8080");
    assert!(cfg.workers.is_some() && cfg.run_migrations);
    let provider = &workers(&cfg).provider;
    assert_eq!(provider.base_url, "https://api.openai.com/v1");
    assert_eq!(provider.schema_profile, SchemaProfile::OpenAi);
    assert_eq!(provider.max_tokens, None, "derived from each schema");
    assert_eq!(workers(&cfg).runtime.concurrency, 256);
    assert_eq!(cfg.pool.max_size + workers(&cfg).pool_size, 32);
    assert_eq!(http(&cfg).settings.rate_limit.limit, 20);
    assert_eq!(http(&cfg).settings.job_max_attempts, 3);
    assert_eq!(
        http(&cfg).settings.idempotency_ttl,
        Duration::from_secs(24 * 3_600)
    );
    assert_eq!(workers(&cfg).runtime.backoff_base, Duration::from_secs(1));
    assert_eq!(workers(&cfg).runtime.stale_after, Duration::from_secs(300));
    assert_eq!(provider.model, "gpt-4o-mini");
    assert_eq!(
        workers(&cfg).runtime.retain_completed,
        Duration::from_secs(24 * 3_600)
    );
    assert_eq!(
        workers(&cfg).runtime.retain_failed,
        Duration::from_secs(7 * 24 * 3_600)
    );
    assert_eq!(cfg.pool.lock_timeout, Some(Duration::from_secs(2)));
    assert_eq!(cfg.pool.statement_timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        http(&cfg).settings.limits,
        Limits {
            stop_within: workers(&cfg).runtime.shutdown_grace,
            ..Limits::default()
        }
    );
    assert_eq!(
        http(&cfg).settings.limits.keep_alive,
        None,
        "closed after each response"
    );
    assert_eq!(http(&cfg).settings.limits.max_connections, 4_096);
    assert_eq!(
        http(&cfg).settings.limits.body_timeout,
        Duration::from_secs(10)
    );
    assert_eq!(http(&cfg).settings.limits.held_per_user, 8);
    assert_eq!(workers(&cfg).pool_size, 8);
}

#[test]
fn connection_and_database_limits_can_be_set_and_zero_turns_timeouts_off() {
    let cfg = serve(&Env::from_pairs(&[
        DB,
        SECRET,
        KEY,
        ("MAX_CONNECTIONS", "100"),
        ("REQUEST_BODY_TIMEOUT_MS", "250"),
        ("MAX_STREAMS_PER_USER", "2"),
        ("DATABASE_LOCK_TIMEOUT_MS", "0"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "1500"),
        ("WORKER_POOL_SIZE", "4"),
    ]))
    .unwrap();
    assert_eq!(http(&cfg).settings.limits.max_connections, 100);
    assert_eq!(
        http(&cfg).settings.limits.body_timeout,
        Duration::from_millis(250)
    );
    assert_eq!(http(&cfg).settings.limits.held_per_user, 2);
    assert_eq!(cfg.pool.lock_timeout, None);
    assert_eq!(
        cfg.pool.statement_timeout,
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(workers(&cfg).pool_size, 4);
    let err = serve(&Env::from_pairs(&[
        DB,
        SECRET,
        KEY,
        ("DATABASE_POOL_SIZE", "8"),
        ("WORKER_POOL_SIZE", "8"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("WORKER_POOL_SIZE is invalid"), "{err}");
    // Unset, it fits any pool: a quarter, 1 to 8.
    for (pool, expected) in [("2", 1), ("10", 2), ("32", 8), ("200", 8)] {
        let cfg = serve(&Env::from_pairs(&[
            DB,
            SECRET,
            KEY,
            ("DATABASE_POOL_SIZE", pool),
        ]))
        .unwrap();
        assert_eq!(workers(&cfg).pool_size, expected, "pool {pool}");
    }
}

#[test]
fn a_base_url_alone_configures_a_provider() {
    let env = Env::from_pairs(&[DB, SECRET, ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")]);
    let p = serve(&env).unwrap().workers.unwrap().provider;
    assert_eq!(p.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(p.api_key, None);
    assert_eq!(p.timeout, Duration::from_secs(10));
    assert_eq!(p.extended_timeout, Duration::from_secs(20));
    assert_eq!(p.schema_profile, SchemaProfile::Full, "a local server");
}

#[test]
fn the_schema_profile_and_token_budget_can_be_set() {
    let env = Env::from_pairs(&[
        DB,
        SECRET,
        ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ("LLM_SCHEMA_PROFILE", "openai"),
        ("LLM_MAX_TOKENS", "900"),
    ]);
    let p = serve(&env).unwrap().workers.unwrap().provider;
    assert_eq!(p.schema_profile, SchemaProfile::OpenAi);
    assert_eq!(p.max_tokens, Some(900));
}

#[test]
fn workers_without_a_provider_refuse_to_start_with_one_line() {
    for env in [
        Env::from_pairs(&[DB, SECRET]),
        Env::from_pairs(&[DB, SECRET, ("WORKERS", "true")]),
    ] {
        let err = serve(&env).unwrap_err().to_string();
        assert!(
            err.contains("OPENAI_BASE_URL") && err.contains("OPENAI_API_KEY"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("WORKERS=false"), "{err}");
    }
    let err = worker(&Env::from_pairs(&[DB])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("OPENAI_BASE_URL and OPENAI_API_KEY are not set")
    );
    let api_only = serve(&Env::from_pairs(&[DB, SECRET, ("WORKERS", "false")])).unwrap();
    assert!(api_only.workers.is_none() && api_only.http.is_some());
    assert!(worker(&Env::from_pairs(&[DB, KEY])).is_ok());
}

#[test]
fn invalid_numbers_and_flags_name_their_variable() {
    for (name, value) in [
        ("WORKER_CONCURRENCY", "0"),
        ("WORKER_CONCURRENCY", "many"),
        ("WORKER_CONCURRENCY", "10001"),
        ("DATABASE_POOL_SIZE", "1"),
        ("DATABASE_POOL_SIZE", "lots"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_STREAMS_PER_USER", "0"),
        ("MAX_STREAMS", "x"),
        ("REQUEST_HEAD_TIMEOUT_MS", "10"),
        ("REQUEST_BODY_TIMEOUT_MS", "999999999"),
        ("WRITE_QUEUE_TIMEOUT_MS", "0"),
        ("DATABASE_LOCK_TIMEOUT_MS", "-1"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "soon"),
        ("WORKER_POOL_SIZE", "0"),
        ("JOB_STALE_AFTER_MS", "-5"),
        ("WORKERS", "maybe"),
        ("RUN_MIGRATIONS", "perhaps"),
        ("DEV_SIGN_IN", "sometimes"),
        ("BIND_ADDR", "localhost"),
        ("GENERATION_TIMEOUT_MS", "abc"),
        ("RATE_LIMIT_PER_HOUR", "0"),
        ("IDEMPOTENCY_KEY_TTL_HOURS", "0"),
        ("IDEMPOTENCY_KEY_TTL_HOURS", "169"),
        ("JOB_RETAIN_FAILED_HOURS", "0"),
        ("JOB_PRUNE_INTERVAL_MS", "10"),
        ("LLM_MAX_TOKENS", "0"),
        ("LLM_MAX_TOKENS", "lots"),
        ("LLM_REQUESTS_PER_MINUTE", "0"),
        ("LLM_REQUESTS_PER_MINUTE", "sixty"),
        ("LLM_REQUESTS_PER_MINUTE", "-5"),
        ("LLM_TOKENS_PER_MINUTE", "0"),
        ("LLM_TOKENS_PER_MINUTE", "4294967296"),
        ("LLM_LIMIT_WINDOW_MS", "10"),
        ("LLM_SCHEMA_PROFILE", "strict"),
        ("OPENAI_API_KEY", "sk-test\n"),
    ] {
        let err = serve(&Env::from_pairs(&[DB, SECRET, KEY, (name, value)])).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("{name} is invalid")),
            "{name}={value}: {err}"
        );
    }
}

#[test]
fn provider_limits_are_unlimited_unless_set_and_shared_per_window() {
    let runtime = |pairs: &[(&str, &str)]| {
        let mut all = vec![DB, SECRET, KEY];
        all.extend_from_slice(pairs);
        workers(&serve(&Env::from_pairs(&all)).unwrap())
            .runtime
            .provider_limits
    };
    let unset = runtime(&[]);
    assert!(unset.is_unlimited());
    assert_eq!(unset.window, Duration::from_secs(60));
    let set = runtime(&[
        ("LLM_REQUESTS_PER_MINUTE", "54"),
        ("LLM_TOKENS_PER_MINUTE", " 18000 "),
        ("LLM_LIMIT_WINDOW_MS", "2000"),
    ]);
    assert_eq!(set.requests.map(NonZeroU32::get), Some(54));
    assert_eq!(set.tokens.map(NonZeroU32::get), Some(18_000));
    assert_eq!(set.window, Duration::from_secs(2));
    let blank = runtime(&[("LLM_REQUESTS_PER_MINUTE", "  ")]);
    assert!(blank.is_unlimited(), "blank is unset");
}

#[test]
fn out_of_range_durations_stop_start_up_with_one_line_naming_the_range() {
    let huge = "18446744073709551615";
    for (name, value, range) in [
        ("GENERATION_TIMEOUT_MS", huge, "from 1 to 3600000"),
        ("GENERATION_TIMEOUT_MS", "3600001", "from 1 to 3600000"),
        ("GENERATION_EXTENDED_TIMEOUT_MS", huge, "from 1 to 3600000"),
        ("JOB_BACKOFF_BASE_MS", huge, "from 1 to 3600000"),
        ("JOB_BACKOFF_BASE_MS", "99999999999999", "from 1 to 3600000"),
        ("JOB_STALE_AFTER_MS", huge, "from 100 to 86400000"),
        ("SHUTDOWN_GRACE_MS", huge, "from 0 to 3600000"),
        ("JOB_PRUNE_INTERVAL_MS", huge, "from 1000 to 86400000"),
        ("JOB_RETAIN_COMPLETED_HOURS", huge, "from 1 to 87600"),
    ] {
        let err = serve(&Env::from_pairs(&[DB, SECRET, KEY, (name, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{name} is invalid")), "{err}");
        assert!(err.contains(range), "{name}={value}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // The largest accepted values parse.
    let cfg = serve(&Env::from_pairs(&[
        DB,
        SECRET,
        KEY,
        ("GENERATION_TIMEOUT_MS", "3600000"),
        ("GENERATION_EXTENDED_TIMEOUT_MS", "3600000"),
        ("JOB_BACKOFF_BASE_MS", "3600000"),
        ("JOB_STALE_AFTER_MS", "86400000"),
        ("SHUTDOWN_GRACE_MS", "3600000"),
        ("JOB_PRUNE_INTERVAL_MS", "86400000"),
    ]))
    .unwrap();
    assert_eq!(
        workers(&cfg).runtime.backoff_base,
        Duration::from_secs(3_600)
    );
    assert_eq!(
        workers(&cfg).runtime.stale_after,
        Duration::from_secs(86_400)
    );
}

#[test]
fn serve_needs_one_way_to_verify_tokens() {
    let err = serve(&Env::from_pairs(&[DB, KEY])).unwrap_err();
    assert!(
        err.to_string().starts_with("AUTH_JWT_SECRET is not set"),
        "{err}"
    );
    let jwks = ("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks.json");
    assert!(matches!(
        serve(&Env::from_pairs(&[DB, KEY, jwks]))
            .unwrap()
            .http
            .unwrap()
            .auth
            .keys,
        KeySource::Jwks(_)
    ));
    assert!(serve(&Env::from_pairs(&[DB, KEY, SECRET, jwks])).is_err());
}

#[test]
fn development_sign_in_is_off_unless_asked_for() {
    let cfg = serve(&Env::from_pairs(&[DB, SECRET, KEY])).unwrap();
    assert!(!http(&cfg).auth.dev_sign_in);
    for (value, on) in [
        ("true", true),
        ("1", true),
        ("YES", true),
        ("false", false),
        ("0", false),
        ("", false),
    ] {
        let cfg = serve(&Env::from_pairs(&[DB, SECRET, KEY, ("DEV_SIGN_IN", value)])).unwrap();
        assert_eq!(http(&cfg).auth.dev_sign_in, on, "DEV_SIGN_IN={value}");
    }
}

#[test]
fn development_sign_in_needs_the_secret_and_is_refused_with_jwks_only() {
    let jwks = ("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks.json");
    let err = serve(&Env::from_pairs(&[DB, KEY, jwks, ("DEV_SIGN_IN", "true")]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("DEV_SIGN_IN is invalid"), "{err}");
    assert!(
        err.contains("AUTH_JWT_SECRET") && err.contains("AUTH_JWKS_URL"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    // Off, JWKS alone is fine; without any key source the usual refusal comes first.
    assert!(serve(&Env::from_pairs(&[DB, KEY, jwks, ("DEV_SIGN_IN", "false")])).is_ok());
    let err = serve(&Env::from_pairs(&[DB, KEY, ("DEV_SIGN_IN", "true")])).unwrap_err();
    assert!(
        err.to_string().starts_with("AUTH_JWT_SECRET is not set"),
        "{err}"
    );
}

#[test]
fn a_missing_database_url_names_the_variable() {
    let err = database_url(&Env::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("DATABASE_URL is not set"),
        "{err}"
    );
}

#[test]
fn a_non_postgres_database_url_is_refused() {
    let err = database_url(&Env::from_pairs(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
    assert!(
        err.to_string().starts_with("DATABASE_URL is invalid"),
        "{err}"
    );
}

#[test]
fn an_unknown_log_format_names_the_variable() {
    let env = Env::from_pairs(&[
        ("DATABASE_URL", "postgres://localhost/x"),
        ("LOG_FORMAT", "xml"),
    ]);
    let err = LogFormat::from_env(&env).unwrap_err();
    assert!(
        err.to_string().starts_with("LOG_FORMAT is invalid"),
        "{err}"
    );
}

#[test]
fn a_short_jwt_secret_is_refused() {
    let err =
        SigningConfig::from_env(&Env::from_pairs(&[("AUTH_JWT_SECRET", "short")])).unwrap_err();
    assert!(
        err.to_string().starts_with("AUTH_JWT_SECRET is invalid"),
        "{err}"
    );
    assert!(
        SigningConfig::from_env(&Env::default())
            .unwrap_err()
            .to_string()
            .starts_with("AUTH_JWT_SECRET is not set")
    );
}

fn http(cfg: &Config) -> &HttpConfig {
    cfg.http.as_ref().unwrap()
}

fn workers(cfg: &Config) -> &WorkersConfig {
    cfg.workers.as_ref().unwrap()
}

#[test]
fn a_worker_ignores_the_http_settings_it_does_not_use_and_reports_its_own_first() {
    // What only `serve` reads does not stop a worker.
    assert!(worker(&Env::from_pairs(&[DB, KEY, ("MAX_CONNECTIONS", "0")])).is_ok());
    assert!(
        serve(&Env::from_pairs(&[
            DB,
            SECRET,
            KEY,
            ("MAX_CONNECTIONS", "0")
        ]))
        .is_err()
    );
    // A bad shared setting is named before the missing provider, by both.
    let bad = ("RATE_LIMIT_PER_HOUR", "0");
    for err in [
        worker(&Env::from_pairs(&[DB, bad])).unwrap_err(),
        serve(&Env::from_pairs(&[DB, SECRET, bad])).unwrap_err(),
    ] {
        assert!(
            err.to_string()
                .starts_with("RATE_LIMIT_PER_HOUR is invalid"),
            "{err}"
        );
    }
}

#[test]
fn usage_settings_default_and_parse() {
    let cfg = serve(&Env::from_pairs(&[DB, SECRET, KEY])).unwrap();
    assert!(workers(&cfg).runtime.prices.is_empty(), "unset: no prices");
    assert_eq!(workers(&cfg).runtime.attempt_retention_days, 30);
    assert_eq!(workers(&cfg).runtime.aggregate_retention_days, 365);
    assert_eq!(http(&cfg).settings.currency, "USD");
    assert_eq!(http(&cfg).settings.rate_limit.monthly_token_budget, None);

    let cfg = serve(&Env::from_pairs(&[
        DB,
        SECRET,
        KEY,
        ("LLM_PRICES", "gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10"),
        ("LLM_PRICE_CURRENCY", "EUR"),
        ("USER_MONTHLY_TOKEN_BUDGET", "250000"),
        ("ATTEMPT_RETENTION_DAYS", "7"),
        ("USAGE_AGGREGATE_RETENTION_DAYS", "30"),
    ]))
    .unwrap();
    let price = workers(&cfg).runtime.prices.price("gpt-4o").unwrap();
    assert_eq!(price.input_nanos_per_million, 2_500_000_000);
    assert_eq!(price.output_nanos_per_million, 10_000_000_000);
    assert_eq!(http(&cfg).settings.currency, "EUR");
    assert_eq!(
        http(&cfg).settings.rate_limit.monthly_token_budget,
        Some(250_000)
    );
    assert_eq!(workers(&cfg).runtime.attempt_retention_days, 7);
    assert_eq!(workers(&cfg).runtime.aggregate_retention_days, 30);
}

#[test]
fn bad_usage_settings_refuse_start_up_naming_the_variable() {
    for (name, value) in [
        ("LLM_PRICES", "gpt-4o-mini=0.15"),
        ("LLM_PRICES", "gpt-4o=-1/2"),
        ("LLM_PRICES", "a=1/2,a=1/2"),
        ("LLM_PRICE_CURRENCY", "US DOLLARS"),
        ("LLM_PRICE_CURRENCY", "ABCDEFGHIJKLMNOPQ"),
        ("USER_MONTHLY_TOKEN_BUDGET", "0"),
        ("USER_MONTHLY_TOKEN_BUDGET", "lots"),
        ("ATTEMPT_RETENTION_DAYS", "0"),
        ("ATTEMPT_RETENTION_DAYS", "3651"),
        ("USAGE_AGGREGATE_RETENTION_DAYS", "x"),
        ("USAGE_AGGREGATE_RETENTION_DAYS", "10"),
    ] {
        let err = serve(&Env::from_pairs(&[DB, SECRET, KEY, (name, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{name} is invalid")),
            "{name}={value}: {err}"
        );
    }
}

#[test]
fn idempotency_keys_are_kept_for_the_hours_set() {
    let cfg = serve(&Env::from_pairs(&[
        DB,
        SECRET,
        KEY,
        ("IDEMPOTENCY_KEY_TTL_HOURS", "2"),
    ]))
    .unwrap();
    assert_eq!(
        http(&cfg).settings.idempotency_ttl,
        Duration::from_secs(2 * 3_600)
    );
}
