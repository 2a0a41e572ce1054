#!/usr/bin/env bash
# The layer boundaries of docs/architecture.md, checked from the manifests (CI runs it):
# - the arrows between the workspace's crates point down the layers only: each crate may name
#   just the internal crates listed for it below (normal dependencies), so no crate reaches up or
#   sideways (the API never names the provider or the job runtime; the test kit names none);
# - only syllabus-store names diesel (and the test kit, behind its optional `postgres` feature,
#   to make test databases), only syllabus-provider names async-openai, only syllabus-api names
#   actix-web and utoipa, as normal dependencies; no product crate depends on the test kit;
# - syllabus-domain stays pure: none of tokio, diesel, actix-web, reqwest, async-openai, utoipa
#   in its whole normal dependency tree.
# Exits non-zero with one line per broken rule.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)

cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
only = {
    "diesel": {"syllabus-store", "syllabus-testkit"},
    "diesel-async": {"syllabus-store", "syllabus-testkit"},
    "diesel_migrations": {"syllabus-store", "syllabus-testkit"},
    "async-openai": {"syllabus-provider"},
    "actix-web": {"syllabus-api"},
    "utoipa": {"syllabus-api"},
}
# The layers, bottom up: what each crate may name of the workspace.
layers = {
    "syllabus-domain": set(),
    "syllabus-testkit": set(),
    "syllabus-provider": {"syllabus-domain"},
    "syllabus-store": {"syllabus-domain"},
    "syllabus-jobs": {"syllabus-domain", "syllabus-provider", "syllabus-store"},
    "syllabus-api": {"syllabus-domain", "syllabus-store"},
    "syllabus": {"syllabus-domain", "syllabus-provider", "syllabus-store", "syllabus-jobs", "syllabus-api"},
    # The peer benchmark (issue #22, benches/peer-apalis) names none of the workspace.
    "syllabus-bench-apalis": set(),
    "syllabus-e2e": {"syllabus", "syllabus-domain", "syllabus-provider", "syllabus-store", "syllabus-jobs", "syllabus-api", "syllabus-testkit"},
}
broken = []
for pkg in meta["packages"]:
    me = pkg["name"]
    if me not in layers:
        broken.append(f"{me} is not placed in a layer (add it to scripts/check-boundaries.sh and docs/architecture.md)")
    for dep in pkg["dependencies"]:
        it, normal = dep["name"], dep.get("kind") is None
        if normal and it in layers and it not in layers.get(me, set()):
            broken.append(f"{me} depends on {it}, across the layers")
        if normal and it == "syllabus-testkit" and me != "syllabus-e2e":
            broken.append(f"{me} depends on the test kit as a normal dependency")
        if me == "syllabus-testkit" and it.startswith("diesel") and not dep.get("optional"):
            broken.append(f"syllabus-testkit needs {it} only behind its postgres feature")
        if dep.get("kind") is None and dep["name"] in only and pkg["name"] not in only[dep["name"]]:
            allowed = ", ".join(sorted(only[dep["name"]]))
            who, what = pkg["name"], dep["name"]
            broken.append(f"{who} depends on {what}, which only {allowed} may name")
for line in broken:
    print(f"check-boundaries: {line}", file=sys.stderr)
sys.exit(1 if broken else 0)
'

banned='^(tokio|diesel|diesel-async|actix-web|reqwest|async-openai|utoipa) '
if impure="$(cargo tree -p syllabus-domain -e normal --prefix none | grep -E "$banned" | sort -u)" && [[ -n "$impure" ]]; then
    echo "check-boundaries: syllabus-domain must stay pure, but its tree holds: $(echo "$impure" | tr '\n' ' ')" >&2
    exit 1
fi
echo "check-boundaries: the crates name only the layers below them; diesel only in the store (and the test kit's postgres feature), async-openai only in the provider, actix-web and utoipa only in the API; the domain crate's tree is pure"
