#!/usr/bin/env bash
# The README's test command (`npm test`). Sets up what a fresh Debian machine lacks, builds, and runs
# every test under dist/test, or only the test files given as arguments.
#
#   npm test                                   # everything
#   npm test -- dist/test/harness-smoke.test.js  # only these files
#
# Tests start their own Prometheus, VictoriaMetrics, Redis and Go programs on free loopback ports; no
# system service is started or needed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Go keeps its build and module caches under $HOME; a CI environment may not set it.
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME="${HOME:-/tmp}"

if [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
[[ -x /usr/bin/prometheus ]] || have prometheus || missing+=(prometheus)
[[ -x /usr/bin/victoria-metrics ]] || have victoria-metrics || missing+=(victoria-metrics)
have redis-server || missing+=(redis-server)
have htpasswd || missing+=(apache2-utils)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
have go || missing+=(golang-go)
# client_golang for the Go test programs comes from the Go module proxy where it is reached, else from
# Debian's package in GOPATH mode (test/harness/servers.ts buildGoProgram tries them in that order).
if [[ ! -d /usr/share/gocode/src/github.com/prometheus/client_golang ]]; then
  if ! have go || ! (cd test/go/nativemetrics && GOTOOLCHAIN=local timeout 180 go mod download >/dev/null 2>&1); then
    missing+=(golang-github-prometheus-client-golang-dev)
  fi
fi

if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" -eq 0 ]] && have apt-get; then
    echo "test.sh: installing missing Debian packages: ${missing[*]}" >&2
    apt-get update
    # policy-rc.d keeps Debian's postinst from starting the packages' own services: the tests start
    # their own instances. Removed again afterwards if we created it.
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      created_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" || status=$?
    if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    if ((status != 0)); then
      echo "test.sh: apt-get install failed (exit $status)" >&2
      exit "$status"
    fi
  else
    echo "test.sh: missing Debian packages: ${missing[*]}" >&2
    echo "test.sh: install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

npm run build

if (($# > 0)); then
  exec node --test --test-concurrency=2 --test-timeout=600000 "$@"
fi

# The attack tests load both cores themselves (a decode worker grinding crafted profiles, 300 hostile
# sockets, a 1.5M-name flood) and measure lag or memory while they do: each runs alone, after the
# others, so that neither they nor the timing tests beside them measure the other file's load.
solo=(
  dist/test/integration/crafted-profiles.test.js
  dist/test/integration/remote-write-hostile.test.js
  dist/test/integration/cache-bounds.test.js
  dist/test/integration/series-limit.test.js
  # 20,000 series a second must arrive with no slot skipped: a measure of the daemon's own speed, which
  # other files' load on the two cores would make a measure of theirs.
  dist/test/integration/backpressure.test.js
)
mapfile -t all < <(find dist/test -name '*.test.js' | sort)
shared=()
for f in "${all[@]}"; do
  [[ " ${solo[*]} " == *" $f "* ]] || shared+=("$f")
done
if ((${#all[@]} == 0)); then
  echo "test.sh: no test files found under dist/test" >&2
  exit 1
fi
for f in "${solo[@]}"; do
  [[ -f "$f" ]] || { echo "test.sh: $f is listed to run alone but does not exist" >&2; exit 1; }
done

status=0
node --test --test-concurrency=2 --test-timeout=600000 "${shared[@]}" || status=$?
for f in "${solo[@]}"; do
  node --test --test-concurrency=1 --test-timeout=600000 "$f" || status=$?
done
exit "$status"
