#!/usr/bin/env bash
# The live build (`--no-default-features`: no `sandboxes` feature) has no sandbox code in it and
# refuses to start in sandbox mode. Checked by clippy, by the binary's symbols, and by starting it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo clippy -p storefront --no-default-features --all-targets -- -D warnings
cargo build -p storefront --no-default-features --bin storefront
live=target/debug/storefront

# Every sandbox function lives in the module `storefront::sandboxes`. The control: the
# `sandboxes` binary (default features) has thousands of these symbols, so a renamed module
# cannot pass by accident.
cargo build --bin sandboxes
control=$(nm -C target/debug/sandboxes | grep -c 'storefront::sandboxes::' || true)
if [ "$control" -lt 100 ]; then
  echo "the control build has only ${control} sandbox symbols: the check below would prove nothing" >&2
  exit 1
fi
found=$(nm -C "$live" | grep -c 'storefront::sandboxes::' || true)
if [ "$found" != 0 ]; then
  echo "the live build has ${found} sandbox symbols" >&2
  nm -C "$live" | grep 'storefront::sandboxes::' | head >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for mode in unset sandbox; do
  status=0
  if [ "$mode" = unset ]; then set -- env -u PAYMENTS_MODE; else set -- env PAYMENTS_MODE=sandbox; fi
  "$@" DATABASE_URL="sqlite://${scratch}/shop.db" LEPTOS_SITE_ADDR=127.0.0.1:0 \
    timeout 20 "$live" >"${scratch}/out" 2>&1 || status=$?
  if [ "$status" != 2 ] || ! grep -q "PAYMENTS_MODE: live: this is the live build" "${scratch}/out"; then
    echo "the live build with PAYMENTS_MODE ${mode} exited ${status}, not 2 with the refusal:" >&2
    cat "${scratch}/out" >&2
    exit 1
  fi
done
echo "live build: no sandbox symbols (the default build has ${control}); PAYMENTS_MODE unset or sandbox refused"
