#!/usr/bin/env bash
# Installs what is missing, builds Soprovod and runs it on the embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_postgresql
ensure_cargo
echo "==> building (cargo build --release)" >&2
cargo build --release --locked -q
echo "==> starting the embedded database" >&2
./target/release/soprovod db up >/dev/null
echo "==> the cover-letter chat (end a message with a line holding a single '.', /quit to leave)" >&2
exec ./target/release/soprovod chat
