#!/usr/bin/env bash
# After `make test`, `make run` must reuse the test build: building the binary may compile
# diffscope itself and nothing else. A dependency compiled again means the tests and the
# binary resolve different feature sets (a dev-dependency turning on a feature), and the two
# README commands would rebuild each other's dependencies in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(cargo build --release --bin diffscope 2>&1)"
others="$(printf '%s\n' "$log" | sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' | grep -vx diffscope || true)"
if [ -n "$others" ]; then
  echo "check-one-build: building the binary after the tests compiled again:" $others >&2
  echo "check-one-build: the tests and the binary resolve different features; see Cargo.toml" >&2
  exit 1
fi
echo "check-one-build: the binary reuses the test build"
