#!/usr/bin/env bash
# The web app's tests in a real browser (issue #12): headless Chromium, driven through WebDriver
# (Debian's chromium and chromium-driver; selenium pinned with hashes in
# scripts/browser-requirements.txt, in a throwaway venv), against the real binary, a throwaway
# PostgreSQL and the fake provider in its `app` mode (a plan streamed module by module over 6 s;
# flashcards, distractors and skill-tree calls answer 500 while a file exists, so a test can make
# a job fail and then retry it; a skill tree for a topic with `slow-tree` streams its three
# top-level skills over 6 s, and while the file exists its third is invalid). Webhooks may call receivers the tests run on 127.0.0.1 (loopback
# only, plain http), and a failing receiver's delivery ends within seconds (a 3 s retry window).
#
# Installs chromium and chromium-driver with apt-get when they are missing and this runs as root
# (CI); otherwise says what to install. Screenshots of every screen go to target/browser/
# (BROWSER_SCREENSHOTS to change it). KEEP=1 keeps the work directory (logs). Arguments go to
# unittest: `scripts/browser-test.sh -k test_9` runs only the tests whose names hold test_9.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/pg-lib.sh
root="$(pwd)"

chromium="${CHROMIUM:-/usr/bin/chromium}"
driver="${CHROMEDRIVER:-/usr/bin/chromedriver}"
if [[ ! -x "$chromium" || ! -x "$driver" ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "== installing Debian's chromium and chromium-driver (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
        echo "error: the browser tests need $chromium and $driver: install Debian's chromium and chromium-driver (sudo apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/syllabus-browser.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pg_throwaway_cleanup
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

venv_install scripts/browser-requirements.txt "$work/venv" || exit 1

echo "== building the binary and the fake provider"
cargo build --quiet -p syllabus --bin syllabus -p syllabus-testkit --bin fake-llm
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cp "$target/debug/syllabus" "$target/debug/fake-llm" "$work/"

pg_require_bindir
pg_throwaway syllabus-browser-pg
pg_app_database "$PG_PORT" syllabus

fail_file="$work/provider-failing"
"$work/fake-llm" app --over 6s --fail-while "$fail_file" >"$work/fake-llm.url" 2>"$work/fake-llm.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/fake-llm.url" ]] && break; sleep 0.05; done
llm_url="$(head -n 1 "$work/fake-llm.url")"
[[ -n "$llm_url" ]] || { echo "error: the fake provider did not start" >&2; cat "$work/fake-llm.log" >&2; exit 1; }

port="$(pg_free_port)"
base="http://127.0.0.1:$port"
AUTH_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')" DEV_SIGN_IN=true \
    OPENAI_BASE_URL="$llm_url" OPENAI_API_KEY=fake JOB_BACKOFF_BASE_MS=100 \
    WEBHOOK_ALLOW_LOOPBACK=true WEBHOOK_RETRY_BASE_MS=200 WEBHOOK_RETRY_WINDOW_MS=3000 \
    BIND_ADDR="127.0.0.1:$port" LOG_FORMAT=json RUST_LOG="${RUST_LOG:-info}" \
    "$work/syllabus" serve 2>"$work/serve.log" &
serve=$!
pids+=($serve)
for _ in $(seq 150); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$serve" 2>/dev/null || { echo "error: serve exited; its log:" >&2; tail -n 20 "$work/serve.log" >&2; exit 1; }
    sleep 0.2
done

shots="${BROWSER_SCREENSHOTS:-$root/target/browser}"
mkdir -p "$shots"
echo "== the web app at $base in headless $("$chromium" --version 2>/dev/null || echo chromium); screenshots in $shots"
status=0
BASE_URL="$base" FAIL_FILE="$fail_file" SCREENSHOTS="$shots" CHROMIUM="$chromium" CHROMEDRIVER="$driver" \
    SE_OFFLINE=true "$work/venv/bin/python" -m unittest -v tests/browser/test_app.py "$@" || status=$?
if [[ $status != 0 ]]; then
    echo "== last lines of the serve log" >&2
    tail -n 20 "$work/serve.log" >&2
fi
exit "$status"
