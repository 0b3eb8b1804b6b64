#!/usr/bin/env bash
# Installs what is missing, builds Soprovod and runs it on the embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_postgresql
ensure_cargo
echo "==> building ./target/release/soprovod (cargo build --release)" >&2
if [ ! -x target/release/soprovod ]; then
    echo "    The first build compiles about 400 crates: roughly 15-20 minutes on 2 cores." >&2
    echo "    Progress is shown below; later builds take seconds." >&2
fi
cargo build --release --locked
echo "==> starting the embedded database" >&2
./target/release/soprovod db up >/dev/null
echo "==> the cover-letter chat (end a message with a line holding a single '.', /quit to leave)" >&2
echo "    Later: ./target/release/soprovod chat; stop the database with ./target/release/soprovod db down" >&2
exec ./target/release/soprovod chat
