//! Configuration from the environment (SPEC section 4), read once at start-up.
//!
//! Every variable is read here and nowhere else. A missing or invalid value stops start-up with
//! one line naming the variable.

use std::collections::HashMap;

use anyhow::bail;

/// A snapshot of the process environment, so parsing is testable without touching it.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A set, non-blank value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn require(&self, name: &str, what: &str) -> anyhow::Result<String> {
        match self.get(name) {
            Some(v) => Ok(v.to_owned()),
            None => bail!("{name} is not set: {what}"),
        }
    }
}

/// `LOG_FORMAT`: `json` (default) or `pretty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    fn from_env(env: &Env) -> anyhow::Result<Self> {
        match env.get("LOG_FORMAT").unwrap_or("json") {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => bail!("LOG_FORMAT is invalid: expected `json` or `pretty`, got `{other}`"),
        }
    }
}

/// What `syllabus migrate` needs.
#[derive(Debug, Clone)]
pub struct MigrateConfig {
    pub database_url: String,
    pub log_format: LogFormat,
}

impl MigrateConfig {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            database_url: database_url(env)?,
            log_format: LogFormat::from_env(env)?,
        })
    }
}

fn database_url(env: &Env) -> anyhow::Result<String> {
    let url = env.require(
        "DATABASE_URL",
        "set it to a PostgreSQL URL such as postgres://user@localhost/syllabus",
    )?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("DATABASE_URL is invalid: expected a postgres:// or postgresql:// URL");
    }
    Ok(url)
}

/// Token settings: `AUTH_JWT_SECRET`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
const MIN_SECRET_BYTES: usize = 32;

impl AuthConfig {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let jwt_secret = env.require(
            "AUTH_JWT_SECRET",
            "set it to a random string of at least 32 bytes",
        )?;
        if jwt_secret.len() < MIN_SECRET_BYTES {
            bail!("AUTH_JWT_SECRET is invalid: it must be at least {MIN_SECRET_BYTES} bytes long");
        }
        Ok(Self {
            jwt_secret,
            issuer: env.get("AUTH_ISSUER").map(str::to_owned),
            audience: env.get("AUTH_AUDIENCE").map(str::to_owned),
        })
    }
}

/// Installs the global tracing subscriber; the level comes from `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_database_url_names_the_variable() {
        let err = MigrateConfig::from_env(&Env::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_non_postgres_database_url_is_refused() {
        let err = MigrateConfig::from_env(&Env::from_pairs(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err();
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
        let err = MigrateConfig::from_env(&env).unwrap_err();
        assert!(
            err.to_string().starts_with("LOG_FORMAT is invalid"),
            "{err}"
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err =
            AuthConfig::from_env(&Env::from_pairs(&[("AUTH_JWT_SECRET", "short")])).unwrap_err();
        assert!(
            err.to_string().starts_with("AUTH_JWT_SECRET is invalid"),
            "{err}"
        );
        assert!(
            AuthConfig::from_env(&Env::default())
                .unwrap_err()
                .to_string()
                .starts_with("AUTH_JWT_SECRET is not set")
        );
    }
}
