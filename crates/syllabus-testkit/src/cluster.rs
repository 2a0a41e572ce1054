//! A private PostgreSQL cluster a test can stop and start, for outage tests. It is started with
//! the same shell helpers as `scripts/test.sh` (`scripts/pg-lib.sh`), from the machine's
//! PostgreSQL binaries, as the `postgres` OS user when run as root.

use std::path::PathBuf;
use std::process::Command;

use diesel::sql_query;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::{APP_ROLE, Error, as_app_role, database_exists, ensure_app_role};

/// The application's database on a private cluster.
const APP_DATABASE: &str = "syllabus";

/// A cluster of its own on a free port, removed on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    dir: PathBuf,
    port: u16,
}

fn lib() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-lib.sh")
}

fn shell(script: &str, dir: &std::path::Path, port: u16) -> Result<(), Error> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source \"$LIB\"; pg_require_bindir; {script}"
        ))
        .env("LIB", lib())
        .env("DIR", dir)
        .env("PORT", port.to_string())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "PostgreSQL helper failed ({script}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

const START: &str = r#"pg_start "$DIR/data" "$DIR/sock" "$PORT" "$DIR/postgres.log""#;
const STOP: &str = r#"pg_stop "$DIR/data""#;

impl PrivateCluster {
    /// Initializes and starts a cluster (about a second).
    ///
    /// # Errors
    /// When the PostgreSQL binaries are missing or the server does not start.
    pub fn start() -> Result<Self, Error> {
        let dir = std::env::temp_dir().join(format!(
            "syllabus-cluster-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        // The postgres OS user must be able to enter the directory.
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        shell(START, &dir, port)?;
        Ok(Self { dir, port })
    }

    /// The superuser URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL of a database `syllabus` on this cluster as the application role
    /// ([`crate::APP_ROLE`], without `SUPERUSER` or `BYPASSRLS`), which owns it: both are made
    /// when missing. Migrate it with [`crate::migrate`].
    ///
    /// # Errors
    /// When the cluster refuses.
    pub async fn app_url(&self) -> Result<String, Error> {
        let admin = url::Url::parse(&self.url())?;
        let mut conn = AsyncPgConnection::establish(admin.as_str()).await?;
        ensure_app_role(&mut conn).await?;
        if !database_exists(&mut conn, APP_DATABASE).await? {
            sql_query(format!("CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}"))
                .execute(&mut conn)
                .await?;
        }
        as_app_role(&admin, APP_DATABASE)
    }

    /// Stops the server (fast shutdown: sessions are disconnected).
    ///
    /// # Errors
    /// When the helper fails.
    pub fn stop(&self) -> Result<(), Error> {
        shell(STOP, &self.dir, self.port)
    }

    /// Starts the stopped server again on the same port and data.
    ///
    /// # Errors
    /// When it does not start.
    pub fn start_again(&self) -> Result<(), Error> {
        shell(START, &self.dir, self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = shell(STOP, &self.dir, self.port);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
