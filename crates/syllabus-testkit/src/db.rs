//! A database per test, cloned from a migrated template.
//!
//! The template's name carries a hash of the migrations, so a changed migration gets a fresh
//! template; template creation is serialized across test processes by an advisory lock.
//! Cloning (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`) takes about 0.1 s.

use std::hash::{DefaultHasher, Hash, Hasher};

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use tokio::sync::OnceCell;
use url::Url;

/// The role the application connects as in tests: a login role without `SUPERUSER` or
/// `BYPASSRLS`, owner of the test databases, so row-level security is enforced on it.
pub const APP_ROLE: &str = "syllabus_app";
const APP_PASSWORD: &str = "syllabus_app";
const TEMPLATE_LOCK_KEY: i64 = 0x5359_4c54_4553_5401;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database of its own for one test; dropped (forcibly) when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

/// Why a test database could not be made. Tests unwrap it: a missing database is a failure.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn admin_url() -> Result<Url, Error> {
    let raw = std::env::var("DATABASE_URL").map_err(|_| {
        "DATABASE_URL is not set: run the tests with `scripts/test.sh`, which starts a throwaway PostgreSQL"
    })?;
    Ok(Url::parse(&raw).map_err(|e| format!("DATABASE_URL is not a URL: {e}"))?)
}

fn with_database(url: &Url, database: &str) -> String {
    let mut url = url.clone();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

pub(crate) fn as_app_role(url: &Url, database: &str) -> Result<String, Error> {
    let mut url = url.clone();
    url.set_username(APP_ROLE)
        .map_err(|()| "cannot set the user of DATABASE_URL")?;
    url.set_password(Some(APP_PASSWORD))
        .map_err(|()| "cannot set the password of DATABASE_URL")?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

/// The workspace's `migrations/` folder.
fn migrations_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// Applies every pending migration of the workspace's `migrations/` folder, read from disk, to the
/// database at `url`, with diesel's harness (the store embeds the same folder and records
/// versions the same way, so a process started on this database finds nothing to apply). The
/// kit applies them itself so that it does not depend on the store, whose tests use it.
///
/// Needs a multi-threaded tokio runtime: the migration harness blocks in place.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(url: &str) -> Result<(), Error> {
    let conn = AsyncPgConnection::establish(url).await?;
    let migrations = FileBasedMigrations::from_path(migrations_dir())?;
    let mut harness = AsyncMigrationHarness::new(conn);
    tokio::task::block_in_place(|| harness.run_pending_migrations(migrations).map(drop))
}

/// Creates the application role ([`APP_ROLE`]) when it is missing: a login role without
/// `SUPERUSER` or `BYPASSRLS`, so row-level security applies to it.
pub(crate) async fn ensure_app_role(conn: &mut AsyncPgConnection) -> Result<(), Error> {
    sql_query(format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
             END IF;
         END $$"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

fn migrations_fingerprint() -> String {
    let dir = migrations_dir();
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    let mut hasher = DefaultHasher::new();
    for path in entries {
        path.to_string_lossy().hash(&mut hasher);
        std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

pub(crate) async fn database_exists(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<bool, Error> {
    let row: Exists =
        sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await?;
    Ok(row.exists)
}

async fn ensure_template() -> Result<String, Error> {
    let admin = admin_url()?;
    let template = format!("syllabus_tmpl_{}", migrations_fingerprint());
    let mut conn = AsyncPgConnection::establish(admin.as_str())
        .await
        .map_err(|e| format!("cannot connect to DATABASE_URL: {e}"))?;
    sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let result = build_template(&mut conn, &admin, &template).await;
    sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    result.map(|()| template)
}

async fn build_template(
    conn: &mut AsyncPgConnection,
    admin: &Url,
    template: &str,
) -> Result<(), Error> {
    // The role may exist from an earlier run.
    ensure_app_role(conn).await?;
    if database_exists(conn, template).await? {
        return Ok(());
    }
    let building = format!("{template}_building");
    sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
        .execute(conn)
        .await?;
    sql_query(format!("CREATE DATABASE {building} OWNER {APP_ROLE}"))
        .execute(conn)
        .await?;
    // Migrate as the application role, as production does, so it owns the tables and FORCEd
    // row-level security applies to it.
    migrate(&as_app_role(admin, &building)?).await?;
    sql_query(format!("ALTER DATABASE {building} RENAME TO {template}"))
        .execute(conn)
        .await?;
    sql_query(format!("ALTER DATABASE {template} WITH IS_TEMPLATE true"))
        .execute(conn)
        .await?;
    Ok(())
}

impl TestDb {
    /// Creates a fresh, migrated database for one test.
    ///
    /// Needs a multi-threaded tokio runtime (`#[tokio::test(flavor = "multi_thread")]`): the
    /// migration harness blocks in place.
    ///
    /// # Errors
    /// When `DATABASE_URL` is missing or unusable, or PostgreSQL refuses.
    pub async fn new() -> Result<Self, Error> {
        let template = TEMPLATE.get_or_try_init(ensure_template).await?.clone();
        Self::create(&format!("TEMPLATE {template} STRATEGY FILE_COPY")).await
    }

    /// Creates an empty database (no migrations applied), for tests of the migrations themselves.
    ///
    /// # Errors
    /// As [`TestDb::new`].
    pub async fn empty() -> Result<Self, Error> {
        // Makes sure the application role exists.
        TEMPLATE.get_or_try_init(ensure_template).await?;
        Self::create("").await
    }

    async fn create(options: &str) -> Result<Self, Error> {
        let admin = admin_url()?;
        let name = format!("syllabus_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(admin.as_str()).await?;
        sql_query(format!("CREATE DATABASE {name} OWNER {APP_ROLE} {options}"))
            .execute(&mut conn)
            .await?;
        Ok(Self {
            url: as_app_role(&admin, &name)?,
            admin_url: with_database(&admin, &name),
            name,
        })
    }

    /// URL for the application role (not a superuser: row-level security applies).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// URL for the superuser of the cluster, for assertions that must see every row.
    #[must_use]
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Ok(admin) = admin_url() else { return };
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with a
        // runtime of its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(admin.as_str()).await {
                    let _ = sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}
