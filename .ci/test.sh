#!/usr/bin/env bash
# Runs every check and test suite: formatting, clippy (server and browser builds), unit tests,
# integration tests on SQLite and PostgreSQL, and the browser tests (JavaScript on and off).
# Installs what it needs first. PostgreSQL must listen on 127.0.0.1:5432 (database `test`);
# override with TEST_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "installing tools"
bash .ci/install-tools.sh
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step "checking PostgreSQL"
pg_url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  sleep 2
fi
psql "$pg_url" -qAtc 'select 1' >/dev/null || { echo "PostgreSQL unreachable at $pg_url" >&2; exit 1; }

step "cargo fmt"
cargo fmt --all -- --check

step "import cycles (server and app crates)"
python3 .ci/import-cycles.py app/src lib.rs
python3 .ci/import-cycles.py src lib.rs

step "documentation (links and anchors, every variable the code reads documented)"
python3 .ci/docs-check.py

step "clippy (server build)"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy (browser build)"
cargo clippy -p app --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "the live build: clippy, no sandbox code, refuses sandbox mode"
bash .ci/live-build.sh

step "unit and integration tests (SQLite and PostgreSQL)"
# The providers' published OpenAPI documents, beside the project where CI has them: every request
# the shop sends to Stripe, PayPal and Square is checked against them (src/tests/openapi.rs).
if [ -f ../shared/specs/stripe.spec3.yaml ]; then
  export PROVIDER_OPENAPI_DIR="$(cd ../shared/specs && pwd)"
else
  echo "the OpenAPI request check is skipped: no ../shared/specs beside the project"
fi
cargo test --workspace 2>&1 | tee target/cargo-test.log
cargo_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/cargo-test.log | awk '{s+=$4} END {print s+0}')

step "release build (server + WASM)"
cargo leptos build --release --precompress

step "the providers' official SDKs against the sandboxes binary (Alipay's in Node, the others in Python)"
# The `sandboxes` binary (built by .ci/live-build.sh) serves the seven sandboxes; the shop beside
# it receives the SDK-signed webhooks and is the origin the hosted pages send shoppers back to.
sdk_dir=$(mktemp -d)
DATABASE_URL="sqlite://${sdk_dir}/shop.db" LEPTOS_SITE_ADDR=127.0.0.1:3150 PUBLIC_URL=http://127.0.0.1:3150 \
  RUST_LOG=warn \
  target/release/storefront >"${sdk_dir}/server.log" 2>&1 &
sdk_server=$!
SANDBOXES_ADDR=127.0.0.1:3151 SANDBOXES_DATABASE_URL="sqlite://${sdk_dir}/sandboxes.db" \
  SHOP_URL=http://127.0.0.1:3150 RUST_LOG=warn \
  target/debug/sandboxes >"${sdk_dir}/sandboxes.log" 2>&1 &
sdk_sandboxes=$!
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:3150/healthz >/dev/null 2>&1 \
    && curl -fsS -o /dev/null http://127.0.0.1:3151/sandbox/alipay/keys 2>/dev/null && break
  sleep 0.2
done
sdk_passed=0
sdk_failed=0
sdk_check() {
  if "$@" http://127.0.0.1:3151 http://127.0.0.1:3150; then sdk_passed=$((sdk_passed + 1)); else sdk_failed=$((sdk_failed + 1)); fi
}
sdk_check end2end/.venv/bin/python end2end/sdk/stripe_sdk_check.py
sdk_check end2end/.venv/bin/python end2end/sdk/paypal_sdk_check.py
sdk_check end2end/.venv/bin/python end2end/sdk/square_sdk_check.py
sdk_check node end2end/sdk/alipay_sdk_check.mjs
sdk_check end2end/.venv/bin/python end2end/sdk/braintree_sdk_check.py
sdk_check end2end/.venv/bin/python end2end/sdk/authorizenet_sdk_check.py
kill "$sdk_server" "$sdk_sandboxes"; wait "$sdk_server" "$sdk_sandboxes" 2>/dev/null || true
[ "$sdk_failed" = 0 ] || { cat "${sdk_dir}/server.log" "${sdk_dir}/sandboxes.log" >&2; echo "${sdk_failed} SDK check(s) failed" >&2; exit 1; }

step "browser tests (Playwright + Debian chromium, JavaScript on and off)"
(cd end2end && npx playwright test) 2>&1 | tee target/e2e.log
e2e_passed=$(grep -Eo '^ +[0-9]+ passed' target/e2e.log | awk '{s+=$1} END {print s+0}')
# The README's screenshots, as this run took them (JavaScript on): commit them when they change.
for shot in docs/screenshots/*.png; do
  taken="target/screenshots/$(basename "$shot" .png)-javascript-on.png"
  if [ -f "$taken" ]; then cp "$taken" "$shot"; fi
done

step "done"
echo "cargo tests: ${cargo_passed} passed; SDK checks: ${sdk_passed} passed; browser tests: ${e2e_passed} passed; $(( $(date +%s) - started ))s in all"
echo "total: $(( cargo_passed + sdk_passed + e2e_passed )) passed, 0 failed"
