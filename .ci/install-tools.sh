#!/usr/bin/env bash
# Installs what building the shop needs, from crates.io and npm only (GitHub is unreachable here):
# the wasm32 target, wasm-bindgen-cli at exactly the version in Cargo.lock, cargo-leptos, and the
# npm packages in end2end/ (Playwright, axe-core for the accessibility audits, binaryen's
# wasm-opt for release builds, and Alipay's official Node SDK for its sandbox check). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\b"; then
  # Not --locked: one of its locked dependencies is missing from the reachable index.
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
fi

if ! cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}\b"; then
  # --locked: newer dependency versions need a newer rustc than this machine's stable.
  cargo install --locked "cargo-leptos@${CARGO_LEPTOS_VERSION}" --force
fi

if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -x end2end/node_modules/.bin/playwright ] \
  || [ ! -f end2end/node_modules/axe-core/axe.min.js ] \
  || [ ! -f end2end/node_modules/alipay-sdk/package.json ]; then
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# The providers' official Python SDKs (Stripe, PayPal, Square, Braintree, Authorize.Net), for the checks that
# their sandboxes work with them unchanged. (Alipay's check uses its Node SDK, from
# end2end/package.json.)
if [ ! -x end2end/.venv/bin/python ] \
  || ! end2end/.venv/bin/python -c 'import stripe, paypalserversdk, square, braintree, authorizenet' 2>/dev/null; then
  [ -x end2end/.venv/bin/python ] || python3 -m venv end2end/.venv
  end2end/.venv/bin/pip install --quiet --disable-pip-version-check \
    "stripe==16.1.0" "paypal-server-sdk==2.4.0" "squareup==46.0.0.20260916" "braintree==4.48.0" \
    "authorizenet==1.1.6"
fi
