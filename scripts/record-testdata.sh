#!/usr/bin/env bash
# Re-records the profiles under test/testdata/ from real Go programs:
#   test/testdata/prometheus-<version>/  from Debian's prometheus, scraping itself every 1s for ~20s
#   test/testdata/goprog/                from test/go/goroutines run with -goroutines 200 -mutex -alloc
# Needs: prometheus, go (PATH or /usr/local/go/bin), curl, node. Listens on 127.0.0.1 only.
# See test/testdata/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
if [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
for tool in prometheus go curl node; do
  command -v "$tool" >/dev/null || { echo "record-testdata: $tool not found" >&2; exit 1; }
done

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_http() { # url
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "record-testdata: $1 not ready" >&2
  return 1
}

tmp=$(mktemp -d /tmp/pprofcol-record-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# fetch BASE OUTDIR: everything both programs serve.
fetch_profiles() {
  local base=$1 out=$2
  mkdir -p "$out"
  curl -fsS "$base/debug/pprof/" -o "$out/index.html"
  curl -fsS "$base/debug/pprof/goroutine?debug=1" -o "$out/goroutine.debug1.txt"
  curl -fsS "$base/debug/pprof/goroutine?debug=2" -o "$out/goroutine.debug2.txt"
  curl -fsS "$base/debug/pprof/threadcreate?debug=1" -o "$out/threadcreate.debug1.txt"
  for p in heap allocs goroutine mutex block threadcreate; do
    curl -fsS "$base/debug/pprof/$p" -o "$out/$p.pb.gz"
  done
  curl -fsS "$base/debug/pprof/profile?seconds=3" -o "$out/cpu.pb.gz"
}

# --- Prometheus ---------------------------------------------------------------------------------------
prom_version=$(prometheus --version 2>&1 | sed -n 's/^prometheus, version \([0-9]*\.[0-9]*\).*/\1/p')
prom_full=$(prometheus --version 2>&1 | head -1)
prom_port=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$prom_port"]
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" \
  --web.console.templates="$tmp/consoles" --web.console.libraries="$tmp/console_libraries" \
  >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready"

# --- goroutines program -------------------------------------------------------------------------------
(cd test/go/goroutines && GOTOOLCHAIN=local GOFLAGS= go build -o "$tmp/goroutines" .)
go_port=$(free_port)
"$tmp/goroutines" -listen "127.0.0.1:$go_port" -goroutines 200 -mutex -alloc >"$tmp/goroutines.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$go_port/debug/pprof/"

echo "record-testdata: letting prometheus scrape itself for 20s" >&2
sleep 20

prom_out="test/testdata/prometheus-$prom_version"
go_out="test/testdata/goprog"
rm -rf "$prom_out" "$go_out"
mkdir -p "$prom_out" "$go_out"

# heap?debug=1 and /metrics at the same moment, so derived and native values can be compared.
curl -fsS "http://127.0.0.1:$prom_port/debug/pprof/heap?debug=1" -o "$prom_out/heap.debug1.txt" &
h=$!
curl -fsS "http://127.0.0.1:$prom_port/metrics" -o "$prom_out/metrics.txt" &
m=$!
wait "$h"
wait "$m"

fetch_profiles "http://127.0.0.1:$prom_port" "$prom_out" &
p1=$!
(
  curl -fsS "http://127.0.0.1:$go_port/debug/pprof/heap?debug=1" -o "$go_out/heap.debug1.txt"
  curl -fsS "http://127.0.0.1:$go_port/debug/vars" -o "$go_out/vars.json"
  fetch_profiles "http://127.0.0.1:$go_port" "$go_out"
) &
p2=$!
wait "$p1"
wait "$p2"

go_full=$(go version)
{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "prometheus: $prom_full"
  echo "goprog: test/go/goroutines -goroutines 200 -mutex -alloc, built with $go_full"
} >test/testdata/VERSIONS.txt

du -sh test/testdata
echo "record-testdata: done" >&2
