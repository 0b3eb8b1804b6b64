#!/usr/bin/env bash
# Runs the whole test suite (installing PostgreSQL and Chromium first if this machine lacks them).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_postgresql
ensure_chromium
ensure_cargo
cargo test --workspace --locked
