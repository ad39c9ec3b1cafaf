#!/usr/bin/env bash
# The performance targets (docs/benchmarks.md#how-to-run-them), measured side by side in one run
# against the release build with fresh data; prints one table: figure, target, measured, met or missed. Run on
# demand, never in CI:
#
#   cargo leptos build --release --precompress && bash .ci/bench.sh
#
# Needs wrk (installed with apt if missing). Load goes to 127.0.0.1 only, `BENCH_SECONDS` (3) per
# wrk run, 32 connections, two wrk threads (wrk and the server share the machine's cores). Every
# page and asset row is a share of what a bare axum handler (.ci/bare-axum) answers with a page of
# the catalogue's size from memory: `BENCH_ROUNDS` (5) rounds of the row beside the yardstick, and
# the median round's share. The payment rows
# (checkout p99, verified webhooks against the database's own commit rate, webhook → browser; on
# SQLite and on PostgreSQL, where webhook → browser is also timed across two instances) come
# from the release integration benchmark (`src/tests/bench.rs`); `BENCH_PAYMENTS=0` skips them
# (they need a release build of the test binary, several minutes the first time). The same run
# times one catalogue render with the cache bypassed, so a slower render shows in isolation.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# BENCH_SERVER: another build of the shop to measure (an older one, to compare), with its
# cargo-leptos hash.txt beside it; the site (target/site) is this build's.
server=${BENCH_SERVER:-target/release/storefront}
[ -x "$server" ] || { echo "run 'cargo leptos build --release --precompress' first" >&2; exit 1; }
cargo build --release --quiet -p bare-axum

port=${BENCH_PORT:-3300}
bare_port=$((port + 1))
base="http://127.0.0.1:$port"
data=target/bench-data
rm -rf "$data" && mkdir -p "$data"
DATABASE_URL="sqlite://$data/shop.db" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
  PUBLIC_URL="$base" RUST_LOG=warn MAIL_DIR="$data/mail" MEDIA_DIR="$data/media" \
  ADMIN_EMAIL=bench@example.com ADMIN_PASSWORD=bench-password-123 \
  "$server" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }
met() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { ok = (op == ">=") ? a >= b : a <= b; print ok ? "met" : "**missed**" }'; }

# A session cookie for a visitor who did something (chose a currency, filled a cart).
session() { # jar-name -> prints "name=value"
  # curl writes HttpOnly cookies as `#HttpOnly_host …` lines.
  awk '{ sub(/^#HttpOnly_/, "") } !/^#/ && NF >= 7 { c = $6 "=" $7 } END { print c }' "$data/$1.jar"
}
post() { # jar path form
  curl -fs -o /dev/null -b "$data/$1.jar" -c "$data/$1.jar" -H "Origin: $base" -X POST "$base$2" --data "$3"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk a URL served by process $2; sets rps, p99, cpu_ms (that process's CPU per request).
load() { # url pid [cookie] [text the page must show] [another request header]
  local out before after n
  local args=(-t2 -c32 -d"${wrk_seconds}s" --latency)
  [ -n "${3:-}" ] && args+=(-H "Cookie: $3")
  [ -n "${5:-}" ] && args+=(-H "$5")
  # Warm up (the first render fills the cache), and make sure the page is the one meant.
  curl -fs -o "$data/page.html" ${3:+-H "Cookie: $3"} "$1"
  [ -z "${4:-}" ] || grep -q "$4" "$data/page.html" || { echo "$1: no '$4' on the page" >&2; exit 1; }
  before=$(cpu_ticks "$2")
  out=$(wrk "${args[@]}" "$1")
  after=$(cpu_ticks "$2")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  [ -z "$non2xx" ] || { echo "$1: $non2xx non-2xx answers" >&2; exit 1; }
  cpu_ms=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.3f", t * 1000 / hz / n}')
}

# The ceiling: a bare axum handler (.ci/bare-axum) answering a copy of the catalogue page from
# memory, on the same machine, loaded the same way. The machine's speed drifts (a virtual machine's
# neighbours) by more than the differences measured here, so every page row is measured in rounds,
# each round the row and the yardstick back to back (alternating which goes first), and the row's
# figure is the median of its rounds' shares: each share compares two measurements a few seconds
# apart.
rounds=${BENCH_ROUNDS:-5}
wrk_seconds=${BENCH_SECONDS:-3}
curl -fs "$base/" -o "$data/catalogue.html"
size=$(wc -c < "$data/catalogue.html")
target/release/bare-axum "127.0.0.1:$bare_port" "$data/catalogue.html" >"$data/bare.log" 2>&1 &
bare_pid=$!
trap 'kill $pid $bare_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$bare_port/" && break; sleep 0.1; done
# The yardstick's own row, filled in at the end with every measurement of it.
yardstick_row=${#rows[@]}
row "bare axum" "—" "" "—"
: >"$data/yardstick.txt"

# One measure of the yardstick, kept for its row; sets bare.
yardstick() {
  load "http://127.0.0.1:$bare_port/" "$bare_pid"
  bare=$rps
  echo "$rps $cpu_ms" >>"$data/yardstick.txt"
}
# Measures a page in rounds; sets share (the median round's in whole %; for an even count of
# rounds, the lower middle one), exact_share (the same to one decimal), shares ("a / b / c"), and
# rps, p99, cpu_ms of that median round.
paired() { # url cookie must-show header
  local r bare line
  : >"$data/rounds.txt"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
      yardstick
      load "$1" "$pid" "$2" "$3" "$4"
    else
      load "$1" "$pid" "$2" "$3" "$4"
      line="$rps $p99 $cpu_ms"
      yardstick
      read -r rps p99 cpu_ms <<<"$line"
    fi
    awk -v a="$rps" -v b="$bare" -v p="$p99" -v c="$cpu_ms" 'BEGIN {printf "%.1f %s %s %s\n", a * 100 / b, a, p, c}' >>"$data/rounds.txt"
  done
  shares=$(awk '{printf "%s%.0f", (NR > 1 ? " / " : ""), $1}' "$data/rounds.txt")
  read -r share rps p99 cpu_ms <<<"$(sort -n "$data/rounds.txt" | awk -v m=$(((rounds + 1) / 2)) 'NR == m')"
  exact_share=$share
  share=$(printf '%.0f' "$share")
}
page_rows() { # label url cookie min-percent [must-show] [another request header]
  paired "$2" "$3" "${5:-}" "${6:-}"
  # Held to the target unrounded: 49.6 % is shown as 50 % and missed.
  row "$1" "≥ $4 % of bare axum" "$share % ($shares; $rps req/s, p99 $p99, CPU $cpu_ms ms/req)" "$(met "$exact_share" ">=" "$4")"
}
reported_row() { # label url [header]: a share without a target
  paired "$2" "" "" "${3:-}"
  row "$1" "—" "$share % ($shares; $rps req/s, p99 $p99, CPU $cpu_ms ms/req)" "—"
}

# Static assets: the stylesheet and the WebAssembly as a browser asks for them (hashed names,
# precompressed, held in memory).
css=$(curl -fs "$base/" | grep -o '/pkg/storefront[^"]*\.css' | head -1)
wasm=$(curl -fs "$base/" | grep -o '/pkg/storefront[^"]*\.wasm' | head -1)
page_rows "static: the stylesheet \`$css\`" "$base$css" "" 50
# Six times the bytes of the yardstick's page: reported, not held to its rate.
wasm_kb=$(( $(curl -fs -H 'Accept-Encoding: br' "$base$wasm" | wc -c) / 1024 ))
reported_row "static: the WebAssembly, brotli ($wasm_kb KB sent)" "$base$wasm" "Accept-Encoding: br"

page_rows "catalogue \`/\`, USD (no session)" "$base/" "" 50 '\$18.00'
# As browsers ask for it: the kept page's gzip copy, with this request's nonce.
reported_row "catalogue \`/\`, gzip (\`Accept-Encoding: gzip, deflate, br\`, as browsers send)" "$base/" "Accept-Encoding: gzip, deflate, br"
for currency in EUR BDT CNY JPY; do
  post "$currency" /api/set_currency "currency=$currency"
  page_rows "catalogue \`/\`, $currency (session)" "$base/" "$(session "$currency")" 50 "value=\"$currency\" selected"
done
page_rows "product page" "$base/products/canvas-tote" "" 50
for id in 1 2 3; do post cart /api/add_to_cart "product_id=$id&quantity=1"; done
page_rows "cart page, 3 lines (a guest's session)" "$base/cart" "$(session cart)" 25 'cart-count">(3)'

rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
row "memory: peak RSS after all of the above" "≤ 60 MB" "$rss MB" "$(met "$rss" "<=" 60)"

# After the memory row: registering hashes a password with argon2id, which takes 19 MiB while it
# runs (the argon2 crate's default parameters), a log-in's cost rather than the read path's.
post customer /api/register "email=shopper%40example.com&password=bench-password-123"
for id in 1 2 3; do post customer /api/add_to_cart "product_id=$id&quantity=1"; done
page_rows "cart page, 3 lines (a customer's session: account and saved cart)" "$base/cart" "$(session customer)" 25 'shopper@example.com'

# A big catalogue: 10,000 products more, imported as two CSV files of 5,000 lines (timed), in 20
# categories; then a photo upload (timed), and the shopper's pages again over 10,026 products.
post merchant /api/login "email=bench%40example.com&password=bench-password-123"
for part in 1 2; do
  awk -v part="$part" 'BEGIN {
    print "sku,name,description,category,status,stock,price_usd,price_eur,price_bdt,price_cny,price_jpy"
    for (i = (part - 1) * 5000 + 1; i <= part * 5000; i++)
      printf "BULK-%05d,Bulk Product %05d,\"A sturdy product number %d, made to last.\",Range %02d,on sale,%d,%d.50,%d.00,%d.00,%d.00,%d\n",
        i, i, i, i % 20, 5 + i % 50, 3 + i % 90, 3 + i % 80, 300 + i % 900, 20 + i % 600, 400 + i % 9000
  }' >"$data/import-$part.csv"
  seconds=$(curl -fs -o /dev/null -w '%{time_total}' -b "$data/merchant.jar" -c "$data/merchant.jar" -H "Origin: $base" \
    -F "file=@$data/import-$part.csv;type=text/csv" -F mode=import "$base/admin/products/import/file")
  curl -fs -b "$data/merchant.jar" "$base/admin/products/import" | grep -q 'Imported “import-'"$part"'.csv”: 5000 new' \
    || { echo "import $part did not import 5,000 products" >&2; exit 1; }
  row "catalogue CSV import, 5,000 new products (part $part of 2), SQLite" "seconds" "$seconds s" "—"
done
python3 - "$data/photo.png" <<'PY'
import struct, sys, zlib
w, h = 2400, 1800
raw = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(w * 3)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
seconds=$(curl -fs -o /dev/null -w '%{time_total}' -b "$data/merchant.jar" -c "$data/merchant.jar" -H "Origin: $base" \
  -F "photo=@$data/photo.png;type=image/png" -F "alt=Bench photo" "$base/admin/products/1/photos")
ls "$data/media" | grep -q -- '-1280.jpg$' || { echo "the photo upload wrote no files" >&2; exit 1; }
row "photo upload, 2400 × 1800 PNG ($(( $(wc -c <"$data/photo.png") / 1024 )) KB) → 3 JPEG widths" "seconds" "$seconds s" "—"
page_rows "catalogue \`/\`, 10,026 products" "$base/" "" 50 'rel="next"'
page_rows "category page, 500 of 10,026 products" "$base/?category=range-07" "" 50 'Bulk Product 00007'
page_rows "search \`/?q=number 42\`, 10,026 products" "$base/?q=number%2042" "" 50 'Bulk Product 00042'
page_rows "product page, 10,026 products" "$base/products/bulk-product-09999" "" 50 'Bulk Product 09999'
rows[$yardstick_row]=$(sort -n "$data/yardstick.txt" | awk -v size="$((size / 1024))" '
  { r[NR] = $1; c[NR] = $2 } END {
    m = int((NR + 1) / 2)
    printf "| bare axum: a page of the catalogue'"'"'s size (%d KB) from memory, the ceiling | — | median %d req/s (%d–%d over %d runs, one beside each of a row'"'"'s rounds), CPU %s ms/req | — |", size, r[m], r[1], r[NR], NR, c[m]
  }')
kill $bare_pid; wait $bare_pid 2>/dev/null || true
# What the cache hides: each category's first view, and searches nobody made before.
miss_row() { # label, then URLs, each requested once
  local label=$1 times; shift
  times=$(for url in "$@"; do curl -fs -o /dev/null -w '%{time_total}\n' "$url"; done)
  row "$label" "—" "$(awk '{ s += $1; if ($1 > m) m = $1 } END { printf "mean %.1f ms, max %.1f ms", s * 1000 / NR, m * 1000 }' <<<"$times")" "—"
}
miss_row "category pages, first view of each of 20 (render cache miss), 10,026 products" \
  $(for i in $(seq -w 0 19); do echo "$base/?category=range-$i&after=0.0"; done)
miss_row "searches never made before, 50 (render cache miss), 10,026 products" \
  $(for i in $(seq 1 50); do echo "$base/?q=number%20$((i * 37))"; done)
rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
row "memory: peak RSS after the imports, the photo and the big catalogue's pages" "—" "$rss MB" "—"


# The browser bundle: what a first visit downloads, gzip -9.
bundle=0
for kind in wasm js css; do
  file=$(ls target/site/pkg/storefront*."$kind" | head -1)
  bytes=$(gzip -9 -c "$file" | wc -c)
  bundle=$((bundle + bytes))
  sizes+="$kind $((bytes / 1024)) KB, "
done
row "browser bundle, gzip (JS + WASM + CSS)" "≤ 250 KB" "$((bundle / 1024)) KB (${sizes%, })" "$(met "$((bundle / 1024))" "<=" 250)"

# Repeat visits: hashed names, a year of caching, precompressed files.
wasm=$(curl -fs "$base/" | grep -o '/pkg/storefront[^"]*\.wasm' | head -1)
br=$(curl -fs -D - -o /dev/null -H 'Accept-Encoding: br' "$base$wasm" | tr -d '\r')
gz=$(curl -fs -D - -o /dev/null -H 'Accept-Encoding: gzip' "$base$wasm" | tr -d '\r')
html=$(curl -fs -D - -o /dev/null "$base/" | tr -d '\r')
if [[ "$wasm" =~ storefront\.[A-Za-z0-9_-]+\.wasm ]] && grep -qi '^cache-control: public, max-age=31536000, immutable' <<<"$br" \
  && grep -qi '^content-encoding: br' <<<"$br" && grep -qi '^content-encoding: gzip' <<<"$gz" \
  && grep -qi '^cache-control: private, no-cache' <<<"$html"; then repeat=met; else repeat="**missed**"; fi
row "repeat visits: hashed assets, immutable, br + gzip; HTML private" "all four" "$wasm; $(grep -i '^cache-control' <<<"$br" | head -1); $(grep -i '^content-encoding' <<<"$br")/$(grep -i '^content-encoding' <<<"$gz" | cut -d' ' -f2); HTML $(grep -i '^cache-control' <<<"$html")" "$repeat"
kill $pid; wait $pid 2>/dev/null || true

if [ "${BENCH_PAYMENTS:-1}" != 0 ]; then
  out=$(RUST_LOG=warn cargo test --release --test integration bench_ -- --ignored --nocapture --test-threads 1 2>/dev/null)
  # A test's first line follows cargo's "test … " on the same line: match anywhere.
  echo "$out" | grep -oE '(checkout \(|verified|SQLite single|PostgreSQL single|webhook ->|catalogue page).*' >"$data/payments.txt" || true
  rate() { sed -E 's/.* = ([0-9.]+) per second.*/\1/' <<<"$1"; }
  p99() { sed -E 's/.*p99=([0-9.]+) ms.*/\1/' <<<"$1"; }
  # Each line ends with the database it ran on (checkout, SSE) or names it (webhooks, commits).
  dbname() { case "$1" in *PostgreSQL*) echo PostgreSQL;; *) echo SQLite;; esac; }
  while IFS= read -r line; do
    db=$(dbname "$line")
    case "$line" in
      checkout*) if [ "$db" = SQLite ]; then target="≤ 25 ms"; result=$(met "$(p99 "$line")" "<=" 25); else target="(give the figure)"; result="—"; fi
        row "checkout (re-price, order, attempt, sandbox session), 32 concurrent, $db: p99" "$target" \
        "$(p99 "$line") ms (${line#*: })" "$result";;
      verified*) webhooks=$(rate "$line"); webhook_line=${line#*: };;
      "SQLite single"*|"PostgreSQL single"*) commits=$(rate "$line")
        pct=$(awk -v a="$webhooks" -v b="$commits" 'BEGIN {printf "%.0f", a * 100 / b}')
        row "verified Stripe webhooks vs $db's own single-row commits (16 in flight)" "≥ 50 %" \
          "$pct % ($webhook_line; $commits commits/s)" "$(met "$pct" ">=" 50)";;
      "catalogue page"*) row "${line%%:*} (regressions in isolation)" "—" "${line#*: }" "—";;
      *"two instances"*) row "webhook → browser (SSE), across two instances, PostgreSQL: p99" "≤ 250 ms" "$(p99 "$line") ms" "$(met "$(p99 "$line")" "<=" 250)";;
      webhook*) row "webhook → browser (SSE), one instance, $db: p99" "≤ 50 ms" "$(p99 "$line") ms" "$(met "$(p99 "$line")" "<=" 50)";;
    esac
  done <"$data/payments.txt"
fi

echo "bash .ci/bench.sh on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), release build"
echo
echo "| figure | target | measured | |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
