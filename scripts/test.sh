#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what a fresh machine lacks (MariaDB, buf,
# grpcurl, the Java and Python client toolchains), then: formatting, lints, unit and
# integration tests on SQLite and MariaDB, the API checks, and the generated clients calling
# a real server, the README's grpcurl examples, a rolling upgrade from the previous release
# (built once into ~/.cache), and the end-to-end tests against a real
# DolphinScheduler (3.1.1, fetched from Maven Central into ~/.cache on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/ensure-mariadb.sh
scripts/ensure-tools.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (SQLite and MariaDB)"
cargo test --workspace --quiet

step "buf lint and breaking"
scripts/buf-check.sh

step "clients against a running server"
scripts/with-server.sh scripts/clients-test.sh

step "README grpcurl examples against a running server"
scripts/with-server.sh scripts/readme-examples.sh

step "a rolling upgrade from the previous release, on MariaDB and SQLite"
scripts/rolling-upgrade-test.sh

step "a real DolphinScheduler (3.1.1, from Maven Central) end to end"
scripts/real-dolphinscheduler-test.sh 3.1.1
