#!/bin/sh
# Run once by the official PostgreSQL image on an empty data directory (compose.yaml mounts it into
# /docker-entrypoint-initdb.d/). Creates the role the service connects as, `syllabus_app`, and the
# database `syllabus` it owns. The role is neither SUPERUSER nor BYPASSRLS: row-level security
# applies to it, and `serve`/`worker` refuse a role that bypasses it.
set -eu
: "${SYLLABUS_DB_PASSWORD:?set SYLLABUS_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v app_password="$SYLLABUS_DB_PASSWORD" <<'SQL'
CREATE ROLE syllabus_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE syllabus OWNER syllabus_app;
-- Only the application's role may connect to its database (NOTIFY payloads and LISTEN are not
-- bound by row-level security).
REVOKE CONNECT, TEMPORARY ON DATABASE syllabus FROM PUBLIC;
SQL
