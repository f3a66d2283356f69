#!/usr/bin/env bash
# Builds and runs every benchmark under bench/ (or the ones named), each printing figures and a JSON line.
#   npm run bench                      # all
#   npm run bench -- scrape-pipeline   # one
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run build >/dev/null
if (($# > 0)); then names=("$@"); else mapfile -t names < <(find dist/bench -maxdepth 1 -name '*.js' -printf '%f\n' | sed 's/\.js$//' | sort); fi
for name in "${names[@]}"; do
  echo "== $name"
  node "dist/bench/$name.js"
done
