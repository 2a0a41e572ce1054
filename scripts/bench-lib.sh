# Helpers shared by the benchmark scripts: release binaries, a throwaway PostgreSQL, the fake
# provider, psql, and CPU accounting. Sourced, not executed.
source "$(dirname "${BASH_SOURCE[0]}")/pg-lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/toolchain-lib.sh" # the pinned Rust (rust-toolchain.toml)

# bench_setup NAME [FAKE_LLM_ARG]: builds the release binaries, starts a throwaway cluster and
# the fake provider; sets bin, tmp, port, pids, llm and exports DATABASE_URL, OPENAI_BASE_URL.
bench_setup() {
    pg_require_bindir
    cargo build --quiet --release -p syllabus --bin syllabus -p syllabus-testkit --bin fake-llm
    bin="target/release"
    pids=()
    trap bench_cleanup EXIT
    pg_throwaway "$1"
    # The binaries connect as a role row-level security applies to, on the `syllabus` database.
    pg_app_database "$PG_PORT" syllabus
    tmp="$PG_TMP"
    port="$PG_PORT"
    # pg_ctl may be a symlink on PATH: psql and pgbench live next to its target.
    tools="$(dirname "$(readlink -f "$PG_BINDIR/pg_ctl")")"
    "$bin/fake-llm" ${2:-} > "$tmp/llm.url" & llm=$!; pids+=($llm)
    for _ in $(seq 100); do [[ -s "$tmp/llm.url" ]] && break; sleep 0.05; done
    export OPENAI_BASE_URL="$(cat "$tmp/llm.url")" LOG_FORMAT=json RUST_LOG=info
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    pg_throwaway_cleanup
}

# The benchmark's own queries: as the superuser (set-up behind row-level security's back), on the
# application's database.
psql() { "$tools/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d syllabus "$@"; }

# duration_in s|ms DURATION: a duration as the fake provider's flags take it (`300ms`, `10s`, or
# bare seconds `10`) in seconds (a float) or in whole milliseconds (truncated).
duration_in() {
    python3 -c "import sys
unit, t = sys.argv[1], sys.argv[2]
ms = t.endswith('ms')
v = float(t[:-2]) if ms else float(t.rstrip('s'))
if unit == 's':
    print(v / 1000 if ms else v)
elif unit == 'ms':
    print(int(v) if ms else int(v * 1000))
else:
    sys.exit(f'duration_in: unit {unit!r} is neither s nor ms')" "$1" "$2"
}

# CPU seconds used so far by a process, and by all postgres processes.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
cpu_pg() { { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v t="$(getconf CLK_TCK)" '$2 == "(postgres)" {s += $14 + $15} END {print s / t}'; }
