#!/usr/bin/env bash
# The container image, checked on a machine with no Docker engine and no reachable registry
# (issue #18): Debian's podman builds the top-level Dockerfile with base images made here, then
# the image runs as its non-root user on a read-only root filesystem against a throwaway
# PostgreSQL and the fake provider on the host; a plan is created through the container's port,
# `syllabus healthcheck` runs inside it, and SIGTERM must stop it within the grace period with no
# job left `processing`.
#
# - podman, runc and debootstrap are installed with apt-get when missing and this runs as root
#   (CI); otherwise the script says what to install. Containers run with `--runtime runc` and
#   explicit ulimits: the default crun fails on this kernel's hybrid cgroups.
# - Base images: `debootstrap --variant=minbase bookworm` (gcc, libc6-dev, ca-certificates) from
#   the machine's Debian mirror is the builder; the runtime image is what distroless/cc holds,
#   taken from the same tree (glibc, libgcc_s, CA certificates, /etc/passwd with nonroot 65532).
#   Both are passed through the Dockerfile's BUILDER_IMAGE and RUNTIME_IMAGE arguments. Their
#   tarballs are cached under target/container/ (DEBIAN_MIRROR overrides the mirror).
# - The build stage runs the Dockerfile's own `cargo build --release --locked`, offline, with the
#   host's toolchain (`rustc --print sysroot`) and crate registry mounted read-only and the
#   workspace's target directory mounted at /build/target: the release build is shared with the
#   host's (`scripts/run.sh`, the smoke test), so only the first one of them pays for it (~5 min
#   on 2 cores).
# - KEEP=1 keeps the work directory (logs) and the throwaway cluster's files.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/pg-lib.sh
root="$(pwd)"
started=$SECONDS

say() { echo "== [$((SECONDS - started))s] $*"; }
fail() {
    echo "error: $*" >&2
    exit 1
}

# --- tools -------------------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || [[ -x /usr/sbin/runc ]] || missing+=(runc)
command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "installing Debian's ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
    else
        fail "the container check needs ${missing[*]}: install Debian's podman, runc and debootstrap (sudo apt-get install podman runc debootstrap)"
    fi
fi
[[ "$(id -u)" == 0 ]] || fail "the container check runs podman and debootstrap as root (CI runs it as root)"
export PATH="$PATH:/usr/sbin:/sbin"

# podman with runc, explicit limits (crun and runc's defaults fail here) and nothing pulled.
# A container may not raise a limit above this process's hard limit.
limit() { local n; n="$(ulimit -H "$1")"; [[ "$n" == unlimited ]] && n="$2"; echo "$n"; }
nofile="$(limit -n 1048576)"
nproc="$(limit -u 32768)"
# podman itself runs with at most 32768 processes: more is refused.
((nproc <= 32768)) || nproc=32768
ulimits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
pm() { podman --runtime runc "$@"; }

cache="$root/target/container"
work="$(mktemp -d "${TMPDIR:-/tmp}/syllabus-container.XXXXXX")"
chmod 755 "$work"
pids=()
name="syllabus-ci-$$"
cleanup() {
    podman --runtime runc rm -f -t 0 "$name" >/dev/null 2>&1 || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pg_throwaway_cleanup
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

# --- base images, made locally -------------------------------------------------------------------
# The Debian mirror the machine's apt uses (deb822 `URIs:` or a one-line `deb` entry).
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
            -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
        | head -n 1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
suite=bookworm
packages=gcc,libc6-dev,ca-certificates
# Bump when the way the images are made changes: the cached tarballs are remade.
recipe="v1 $suite minbase $packages"
builder_image=localhost/syllabus-ci-builder:$suite
runtime_image=localhost/syllabus-ci-runtime:$suite
base="$cache/base"
mkdir -p "$base"

# The runtime tree: what distroless/cc-debian12 holds, from the builder's tree.
make_runtime_tree() {
    local from="$1" to="$2" f dir
    mkdir -p "$to"/{etc/ssl/certs,home/nonroot,usr/local/bin,usr/lib,usr/lib64,usr/bin,usr/sbin}
    install -d -m 1777 "$to/tmp"
    for f in bin lib lib64 sbin; do
        [[ -L "$from/$f" ]] && cp -a "$from/$f" "$to/"
    done
    while read -r f; do
        [[ -d "$from$f" && ! -L "$from$f" ]] && continue
        [[ -e "$from$f" || -L "$from$f" ]] || continue
        case "$f" in /usr/share/doc/* | /usr/share/lintian/* | /usr/share/man/*) continue ;; esac
        dir="$(readlink -f "$from$(dirname "$f")")"
        mkdir -p "$to${dir#"$from"}"
        cp -a "$from$f" "$to${dir#"$from"}/"
    done < <(chroot "$from" dpkg-query -L libc6 libgcc-s1)
    cp -a "$from/etc/ssl/certs/ca-certificates.crt" "$to/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$to/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' >"$to/etc/group"
    chown 65532:65532 "$to/home/nonroot"
}

if [[ "$(cat "$base/recipe" 2>/dev/null)" != "$recipe $mirror" || ! -s "$base/builder.tar" || ! -s "$base/runtime.tar" ]]; then
    say "making the base images with debootstrap --variant=minbase $suite from $mirror"
    rm -f "$base/recipe" "$base/builder.tar" "$base/runtime.tar"
    tree="$work/rootfs"
    debootstrap --variant=minbase --include="$packages" "$suite" "$tree" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above); DEBIAN_MIRROR=URL picks another mirror"; }
    rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
    make_runtime_tree "$tree" "$work/runtime"
    tar --numeric-owner -C "$tree" -cf "$base/builder.tar.tmp" . && mv "$base/builder.tar.tmp" "$base/builder.tar"
    tar --numeric-owner -C "$work/runtime" -cf "$base/runtime.tar.tmp" . && mv "$base/runtime.tar.tmp" "$base/runtime.tar"
    rm -rf "$tree" "$work/runtime"
    echo "$recipe $mirror" >"$base/recipe"
fi

# Imports a cached tarball unless the image already holds that very tarball.
import() {
    local tar="$1" image="$2" stamp have
    shift 2
    stamp="$(echo "$(stat -c '%s-%Y' "$tar") $(cat "$base/recipe") $*" | md5sum | cut -c1-32)"
    have="$(pm image inspect -f '{{index .Labels "syllabus.base"}}' "$image" 2>/dev/null || true)"
    if [[ "$have" != "$stamp" ]]; then
        say "importing $image"
        pm import -q --change "LABEL syllabus.base=$stamp" "$@" "$tar" "$image" >/dev/null
    fi
}
# The host's toolchain, crate registry and target directory, mounted into the build at the same
# paths as on the host: cargo's fingerprints hold absolute paths (sources, registry), so only
# then do the container's release build and the host's (`scripts/run.sh`, the smoke test) reuse
# each other's work instead of rebuilding everything.
sysroot="$(rustc --print sysroot)"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

# Like the official rust image, cargo is on PATH and CARGO_HOME is set; the toolchain itself and
# the registry are not in the image but mounted. Offline: crates come from the mounted registry.
import "$base/builder.tar" "$builder_image" \
    --change "ENV PATH=$sysroot/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV CARGO_HOME=$cargo_home" \
    --change 'ENV CARGO_NET_OFFLINE=true'
import "$base/runtime.tar" "$runtime_image" --change 'USER 65532:65532'

# --- the image ----------------------------------------------------------------------------------
say "fetching crates into $cargo_home/registry (cargo fetch --locked)"
cargo fetch --locked --quiet
image=localhost/syllabus:ci
say "building the image (podman build: the Dockerfile's cargo build --release, offline; target directory $target shared with the host)"
build_started=$SECONDS
pm build --format docker --network none --pull=never "${ulimits[@]}" \
    --build-arg BUILDER_IMAGE="$builder_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
    --build-arg SRC_DIR="$root" \
    -v "$sysroot:$sysroot:ro" -v "$cargo_home/registry:$cargo_home/registry:ro" \
    -v "$target:$root/target" \
    -t "$image" -f Dockerfile . >"$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log" >&2; fail "podman build failed (log above)"; }
say "image built in $((SECONDS - build_started))s: $(pm image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"

# The image as built: non-root by number, the health check, the signal, the command.
config="$(pm image inspect -f '{{.Config.User}}|{{.Config.StopSignal}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.Healthcheck.Test}}' "$image")"
[[ "$config" == '65532:65532|SIGTERM|["/usr/local/bin/syllabus"]|["serve"]|["CMD","/usr/local/bin/syllabus","healthcheck"]' ]] \
    || fail "the image's configuration is not what the Dockerfile says: $config"

# --- what it runs against -------------------------------------------------------------------------
say "starting PostgreSQL and the fake provider on the host"
pg_require_bindir
pg_throwaway syllabus-container-pg
pg_app_database "$PG_PORT" syllabus
app_db_url="$DATABASE_URL"
psql="$(dirname "$(readlink -f "$PG_BINDIR/pg_ctl")")/psql"
sql() { "$psql" -qAtX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d syllabus -c "$1"; }

cargo build --quiet -p syllabus-testkit --bin fake-llm
cp "$target/debug/fake-llm" "$work/"
# `app` mode: a plan streamed over 2 s; a topic with `always-stall` gets no answer at all.
"$work/fake-llm" app --over 2s >"$work/fake-llm.url" 2>"$work/fake-llm.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/fake-llm.url" ]] && break; sleep 0.05; done
llm_url="$(head -n 1 "$work/fake-llm.url")"
[[ -n "$llm_url" ]] || { cat "$work/fake-llm.log" >&2; fail "the fake provider did not start"; }

secret="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
port="$(pg_free_port)"
api="http://127.0.0.1:$port"
grace_ms=8000
# No systemd here to time the HEALTHCHECK (podman's complaints go to podman.log): it is run on
# demand (`podman healthcheck run`).
run_flags=(--network host "${ulimits[@]}" --read-only --pull=never)

# --- the container ---------------------------------------------------------------------------------
say "running the image: --read-only, as its user 65532, serve on 127.0.0.1:$port"
# GENERATION_TIMEOUT_MS outlasts the grace period, so the stalled run is still running at the end
# of it and must be released (not end as a timeout by chance).
pm run -d --name "$name" "${run_flags[@]}" \
    -e DATABASE_URL="$app_db_url" -e BIND_ADDR="127.0.0.1:$port" -e AUTH_JWT_SECRET="$secret" \
    -e OPENAI_BASE_URL="$llm_url" -e OPENAI_API_KEY=fake -e SHUTDOWN_GRACE_MS="$grace_ms" \
    -e GENERATION_TIMEOUT_MS=60000 -e GENERATION_EXTENDED_TIMEOUT_MS=60000 -e RUST_LOG=info \
    "$image" >/dev/null 2>>"$work/podman.log"
ready=false
for _ in $(seq 150); do
    [[ "$(pm inspect -f '{{.State.Running}}' "$name")" == true ]] \
        || { pm logs "$name" 2>&1 | tail -n 20 >&2; fail "the container exited at start-up (log above)"; }
    if pm healthcheck run "$name" >/dev/null 2>&1; then ready=true; break; fi
    sleep 0.2
done
[[ $ready == true ]] || { pm logs "$name" 2>&1 | tail -n 20 >&2; fail "the container never became healthy"; }
say "healthy: podman healthcheck run (the image's HEALTHCHECK) answered 0"

pid="$(pm inspect -f '{{.State.Pid}}' "$name")"
uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
[[ "$uid" == 65532 ]] || fail "the service runs as uid $uid, not 65532"
[[ "$(pm inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$name")" == true ]] || fail "the root filesystem is not read-only"
out="$(pm exec "$name" /usr/local/bin/syllabus healthcheck)" || fail "syllabus healthcheck inside the container failed: $out"
echo "   inside: $out (uid $uid, read-only root filesystem)"

token="$(pm run --rm "${run_flags[@]}" -e AUTH_JWT_SECRET="$secret" "$image" token --sub alice 2>>"$work/podman.log")"
auth=(-H "Authorization: Bearer $token")
create_plan() {
    curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d "{\"topic\":\"$1\",\"skill_level\":\"beginner\",\"weekly_hours\":5,\"learning_style\":\"mixed\"}" "$api/api/v1/plans"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

plan="$(create_plan 'Container basics' | field '["id"]')"
status=pending
for _ in $(seq 6); do
    status="$(curl -fsS "${auth[@]}" -H 'Prefer: wait=10' "$api/api/v1/plans/$plan" | field '["status"]')"
    [[ "$status" == pending ]] || break
done
[[ "$status" == ready ]] || fail "plan $plan is $status, not ready"
modules="$(curl -fsS "${auth[@]}" "$api/api/v1/plans/$plan" | field '["modules"].__len__()')"
say "plan $plan is ready through the container's port ($modules modules from the fake provider)"

# A generation the provider never answers: still running when SIGTERM comes.
stalled="$(create_plan 'Stalls always-stall' | field '["id"]')"
job=""
for _ in $(seq 100); do
    job="$(sql "SELECT id FROM jobs WHERE status = 'processing' AND plan_id = '$stalled'")"
    [[ -n "$job" ]] && break
    sleep 0.1
done
[[ -n "$job" ]] || fail "the stalled plan's job never started: $(sql "SELECT status FROM jobs")"

say "SIGTERM (podman stop -t 10: SIGKILL after 10 s, as Docker, Podman and Kubernetes do) with job $job running"
stop_started=$(date +%s%N)
pm stop -t 10 "$name" >/dev/null 2>>"$work/podman.log"
stopped_ms=$((($(date +%s%N) - stop_started) / 1000000))
code="$(pm inspect -f '{{.State.ExitCode}}' "$name")"
pm logs "$name" >"$work/serve.log" 2>&1 || true
# Exit code 0 under `-t 10` proves the process ended before podman's SIGKILL (137 otherwise);
# the wall time also holds podman's own bookkeeping around it (0.3–3 s measured, loaded).
limit_ms=$((grace_ms + 5000))
echo "   exited with code $code after ${stopped_ms} ms (grace ${grace_ms} ms, limit ${limit_ms} ms)"
[[ "$code" == 0 ]] || { tail -n 20 "$work/serve.log" >&2; fail "the container exited with code $code after SIGTERM, not 0"; }
((stopped_ms <= limit_ms)) || fail "the container took ${stopped_ms} ms to stop, more than the grace period plus 5 s"
processing="$(sql "SELECT count(*) FROM jobs WHERE status = 'processing'")"
[[ "$processing" == 0 ]] || fail "$processing job(s) left processing after SIGTERM"
after="$(sql "SELECT status FROM jobs WHERE id = '$job'")"
[[ "$after" == pending ]] || fail "the stalled job is $after after SIGTERM, not released to pending"
say "stopped within the grace period; job $job released to pending, none left processing"
say "container check passed in $((SECONDS - started))s"
