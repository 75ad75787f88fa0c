#!/usr/bin/env bash
# Builds the Rust function of the example (notify) and puts it where eddy.toml expects its
# `bootstrap`. Usage: ./build.sh [--release]
set -euo pipefail
cd "$(dirname "$0")"
profile=debug
if [ "${1:-}" = "--release" ]; then profile=release; fi
root="$(cd ../.. && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --locked ${1:+--release} -p orders-notify)
mkdir -p functions/notify/bin
cp "$target/$profile/orders-notify" functions/notify/bin/bootstrap
echo "functions/notify/bin/bootstrap: built ($profile)"
