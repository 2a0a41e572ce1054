# Recipes mirror CI and the README; each calls the same script a newcomer would.

# Run the binary against a local PostgreSQL (arguments go to the binary).
run *ARGS:
    scripts/run.sh {{ARGS}}

# The whole test suite against a throwaway PostgreSQL.
test *ARGS:
    scripts/test.sh {{ARGS}}

# Everything CI runs.
ci:
    .ci/run

fmt:
    cargo fmt --all

lint:
    cargo clippy --all-targets -- -D warnings

bench:
    cargo bench -p syllabus-domain

# Stop the local PostgreSQL and the local model that `run` started.
stop:
    scripts/run.sh --stop

# Prove the flow against the real local model (CI runs it).
smoke:
    scripts/smoke-local-llm.sh
