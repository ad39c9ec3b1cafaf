#!/usr/bin/env bash
# Runs the shop: installs the build tools if missing, builds (release) and serves at
# http://127.0.0.1:3000 on the SQLite file data/storefront.db, with every payment provider in sandbox.
# Configuration comes from the environment or a .env file (see docs/operating.md#configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-tools.sh
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
exec cargo leptos serve --release --precompress
