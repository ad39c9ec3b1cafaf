#!/usr/bin/env bash
# Benchmarks (run on demand, not in CI): catalogue page vs a static file of the same size, CPU time
# per catalogue request, and memory under load. Needs a release build (`cargo leptos build --release`)
# and wrk (`apt-get install wrk`). Load goes to 127.0.0.1 only, for a fixed 10 s per run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x target/release/storefront ] || { echo "run 'cargo leptos build --release' first" >&2; exit 1; }

port=${BENCH_PORT:-3300}
data=target/bench-data
rm -rf "$data" && mkdir -p "$data"
DATABASE_URL="sqlite://$data/shop.db" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
  RUST_LOG=warn target/release/storefront >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

# A static copy of the catalogue page, served by the same binary from the site root.
mkdir -p target/site/pkg/bench
curl -fs "http://127.0.0.1:$port/" -o target/site/pkg/bench/catalogue.html
size=$(wc -c < target/site/pkg/bench/catalogue.html)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
run() { # name url -> prints requests/s; sets $reqs
  local out; out=$(wrk -t1 -c32 -d10s --latency "$2")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  printf '| %s | %s req/s | p99 %s |\n' "$1" "$rps" "$p99"
}

echo "catalogue page: $size bytes; wrk -t1 -c32 -d10s on this machine ($(nproc) cores, shared with wrk)"
echo
echo "| what | throughput | latency |"
echo "|---|---|---|"
run "static file of the same size" "http://127.0.0.1:$port/pkg/bench/catalogue.html"
static_rps=$rps
before=$(cpu_ticks)
run "catalogue page (SSR, USD)" "http://127.0.0.1:$port/"
after=$(cpu_ticks)
page_rps=$rps
hz=$(getconf CLK_TCK)
cpu_ms=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN {printf "%.3f", t * 1000 / hz / n}')
ratio=$(awk -v a="$page_rps" -v b="$static_rps" 'BEGIN {printf "%.0f", a * 100 / b}')
echo
echo "catalogue / static: ${ratio} %"
echo "server CPU per catalogue request: ${cpu_ms} ms"
grep -E 'VmRSS|VmHWM' "/proc/$pid/status" | tr -s ' \t' ' '
