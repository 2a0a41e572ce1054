//! The fallback provider's settings (its endpoint, key, model, schema profile and limits) and the
//! circuit breaker's, with one-line refusals naming the variable.

use super::*;

#[test]
fn a_fallback_is_configured_by_its_base_url_or_key_with_its_own_limits() {
    let run = |pairs: &[(&str, &str)]| {
        let mut all = vec![DB, SECRET, KEY];
        all.extend_from_slice(pairs);
        serve(&Env::from_pairs(&all)).map(|c| workers(&c).clone())
    };
    let none = run(&[]).unwrap();
    assert!(none.fallback.is_none());
    assert_eq!(
        none.breaker,
        syllabus_domain::breaker::BreakerSettings::default()
    );
    assert_eq!(none.breaker.failures.get(), 5);
    assert_eq!(none.breaker.window, Duration::from_secs(60));
    assert_eq!(none.breaker.cooldown, Duration::from_secs(600));

    let set = run(&[
        ("LLM_MODEL", "primary-model"),
        ("LLM_FALLBACK_BASE_URL", "http://127.0.0.1:9000/v1/"),
        ("LLM_FALLBACK_API_KEY", "sk-fallback"),
        ("LLM_FALLBACK_REQUESTS_PER_MINUTE", "30"),
        ("LLM_FALLBACK_TOKENS_PER_MINUTE", "9000"),
        ("LLM_LIMIT_WINDOW_MS", "2000"),
        ("LLM_BREAKER_FAILURES", "3"),
        ("LLM_BREAKER_WINDOW_MS", "30000"),
        ("LLM_BREAKER_COOLDOWN_MS", "1500"),
    ])
    .unwrap();
    let fallback = set.fallback.unwrap();
    assert_eq!(fallback.provider.base_url, "http://127.0.0.1:9000/v1");
    assert_eq!(
        fallback
            .provider
            .api_key
            .as_ref()
            .map(|k| k.expose().to_owned()),
        Some("sk-fallback".to_owned())
    );
    assert_eq!(
        fallback.provider.model, "primary-model",
        "the primary's model by default"
    );
    assert_eq!(
        fallback.provider.limit_key(),
        "http://127.0.0.1:9000/v1 primary-model"
    );
    assert_eq!(fallback.limits.requests.map(NonZeroU32::get), Some(30));
    assert_eq!(fallback.limits.tokens.map(NonZeroU32::get), Some(9_000));
    assert_eq!(fallback.limits.window, Duration::from_secs(2));
    assert_eq!(
        set.runtime.provider_limits.requests, None,
        "the primary's own"
    );
    assert_eq!(set.breaker.failures.get(), 3);
    assert_eq!(set.breaker.window, Duration::from_secs(30));
    assert_eq!(set.breaker.cooldown, Duration::from_millis(1_500));

    // A key alone is OpenAI's endpoint; a model of its own.
    let key_only = run(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        ("LLM_SCHEMA_PROFILE", "full"),
        ("LLM_FALLBACK_API_KEY", "sk-x"),
        ("LLM_FALLBACK_MODEL", "gpt-4o"),
    ])
    .unwrap()
    .fallback
    .unwrap();
    assert_eq!(key_only.provider.base_url, "https://api.openai.com/v1");
    assert_eq!(key_only.provider.model, "gpt-4o");
    assert_eq!(
        key_only.provider.schema_profile,
        SchemaProfile::OpenAi,
        "the fallback's own profile (OpenAI's), not the local primary's `full`"
    );
    assert!(key_only.limits.is_unlimited());
    // The same endpoint with another model is another provider.
    let same_host = run(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        ("LLM_FALLBACK_BASE_URL", "http://127.0.0.1:8000/v1"),
        ("LLM_FALLBACK_MODEL", "other"),
    ])
    .unwrap();
    assert!(same_host.fallback.is_some());
}

#[test]
fn bad_fallback_and_breaker_settings_name_their_variable() {
    for (pairs, name) in [
        (
            vec![("LLM_FALLBACK_BASE_URL", "ftp://x")],
            "LLM_FALLBACK_BASE_URL",
        ),
        (
            vec![("LLM_FALLBACK_API_KEY", "sk-fallback\n")],
            "LLM_FALLBACK_API_KEY",
        ),
        (vec![("LLM_FALLBACK_MODEL", "m")], "LLM_FALLBACK_MODEL"),
        (
            vec![("LLM_FALLBACK_SCHEMA_PROFILE", "full")],
            "LLM_FALLBACK_SCHEMA_PROFILE",
        ),
        (
            vec![
                ("LLM_FALLBACK_BASE_URL", "http://f/v1"),
                ("LLM_FALLBACK_SCHEMA_PROFILE", "strict"),
            ],
            "LLM_FALLBACK_SCHEMA_PROFILE",
        ),
        (
            vec![("LLM_FALLBACK_REQUESTS_PER_MINUTE", "10")],
            "LLM_FALLBACK_REQUESTS_PER_MINUTE",
        ),
        (
            vec![
                ("LLM_FALLBACK_BASE_URL", "http://f/v1"),
                ("LLM_FALLBACK_REQUESTS_PER_MINUTE", "0"),
            ],
            "LLM_FALLBACK_REQUESTS_PER_MINUTE",
        ),
        (
            vec![
                ("LLM_FALLBACK_BASE_URL", "http://f/v1"),
                ("LLM_FALLBACK_TOKENS_PER_MINUTE", "many"),
            ],
            "LLM_FALLBACK_TOKENS_PER_MINUTE",
        ),
        (
            // The fallback would be the primary itself (the default endpoint and model).
            vec![("LLM_FALLBACK_API_KEY", "sk-other")],
            "LLM_FALLBACK_BASE_URL",
        ),
        (vec![("LLM_BREAKER_FAILURES", "0")], "LLM_BREAKER_FAILURES"),
        (
            vec![("LLM_BREAKER_FAILURES", "five")],
            "LLM_BREAKER_FAILURES",
        ),
        (
            vec![("LLM_BREAKER_FAILURES", "1001")],
            "LLM_BREAKER_FAILURES",
        ),
        (
            vec![("LLM_BREAKER_WINDOW_MS", "10")],
            "LLM_BREAKER_WINDOW_MS",
        ),
        (
            vec![("LLM_BREAKER_WINDOW_MS", "-1")],
            "LLM_BREAKER_WINDOW_MS",
        ),
        (
            vec![("LLM_BREAKER_COOLDOWN_MS", "99")],
            "LLM_BREAKER_COOLDOWN_MS",
        ),
        (
            vec![("LLM_BREAKER_COOLDOWN_MS", "86400001")],
            "LLM_BREAKER_COOLDOWN_MS",
        ),
    ] {
        let mut all = vec![DB, SECRET, KEY];
        all.extend_from_slice(&pairs);
        let err = serve(&Env::from_pairs(&all)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{name} is invalid")),
            "{pairs:?}: {err}"
        );
        let worker_err = worker(&Env::from_pairs(&all)).unwrap_err().to_string();
        assert!(
            worker_err.starts_with(&format!("{name} is invalid")),
            "{pairs:?}: {worker_err}"
        );
    }
}
