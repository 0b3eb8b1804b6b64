#!/usr/bin/env bash
# Runs the whole test suite (installing PostgreSQL first if this machine lacks it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_postgresql
ensure_cargo
cargo test --workspace --locked
