# The pinned toolchain (rust-toolchain.toml), sourced by every script that runs cargo.
#
# Where rustup can download, it installs the pinned version by itself on first use. A machine
# without network whose one installed toolchain already IS that version (this project's CI
# machines: "stable" is 1.95.0) gets it under the pinned name as a link to that toolchain: nothing
# is downloaded and nothing else changes. Any other mismatch stops with one line saying what to do.

toolchain_ensure() {
    command -v rustup >/dev/null 2>&1 || return 0 # a toolchain without rustup: used as it is
    local root want home host installed have
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    want="$(sed -n 's/^channel *= *"\(.*\)"$/\1/p' "$root/rust-toolchain.toml")"
    [[ -n "$want" ]] || return 0
    installed="$(cd / && rustup toolchain list 2>/dev/null)"
    if grep -q "^$want-" <<<"$installed"; then
        return 0
    fi
    have="$(cd / && rustup run stable rustc --version 2>/dev/null | awk '{print $2}')"
    if [[ "$have" != "$want" ]]; then
        echo "toolchain: rust-toolchain.toml pins Rust $want; rustup will try to install it (run \`rustup toolchain install $want\` where there is network)" >&2
        return 0
    fi
    home="${RUSTUP_HOME:-$HOME/.rustup}"
    host="$(cd / && rustup run stable rustc -vV | sed -n 's/^host: //p')"
    ln -sfn "$(cd / && rustup run stable rustc --print sysroot)" "$home/toolchains/$want-$host"
    echo "toolchain: Rust $want is this machine's stable toolchain; linked it as $want-$host (no download)" >&2
}

toolchain_ensure
