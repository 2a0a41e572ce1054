#!/usr/bin/env bash
# The layer boundaries of docs/architecture.md, checked from the manifests (CI runs it):
# - only syllabus-store names diesel (syllabus-testkit too, for now: it applies the migrations;
#   issue #19 removes that), only syllabus-provider names async-openai, only syllabus-api names
#   actix-web, as normal dependencies;
# - syllabus-domain stays pure: none of tokio, diesel, actix-web, reqwest, async-openai in its
#   whole normal dependency tree.
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
    "diesel_migrations": {"syllabus-store"},
    "async-openai": {"syllabus-provider"},
    "actix-web": {"syllabus-api"},
}
broken = []
for pkg in meta["packages"]:
    for dep in pkg["dependencies"]:
        if dep.get("kind") is None and dep["name"] in only and pkg["name"] not in only[dep["name"]]:
            allowed = ", ".join(sorted(only[dep["name"]]))
            who, what = pkg["name"], dep["name"]
            broken.append(f"{who} depends on {what}, which only {allowed} may name")
for line in broken:
    print(f"check-boundaries: {line}", file=sys.stderr)
sys.exit(1 if broken else 0)
'

banned='^(tokio|diesel|diesel-async|actix-web|reqwest|async-openai) '
if impure="$(cargo tree -p syllabus-domain -e normal --prefix none | grep -E "$banned" | sort -u)" && [[ -n "$impure" ]]; then
    echo "check-boundaries: syllabus-domain must stay pure, but its tree holds: $(echo "$impure" | tr '\n' ' ')" >&2
    exit 1
fi
echo "check-boundaries: diesel only in the store (and the test kit), async-openai only in the provider, actix-web only in the API; the domain crate's tree is pure"
