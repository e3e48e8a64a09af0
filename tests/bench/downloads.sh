#!/usr/bin/env bash
# Benchmark of what a student's first `lab up` downloads (prints numbers, from the plan): the
# default lab (labs/spark.yaml: the network install from the boot ISO) against the same lab
# installing offline from the DVD, as `lab up --dry-run` states them. Target: the default lab
# at most 2500 MB in all (host side and the packages the network install fetches); the script
# exits 1 when it is over. Runs offline: a dry run downloads nothing.
# Usage: bash tests/bench/downloads.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
cargo build --quiet -p lab
lab="$repo/target/debug/lab"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/^# offline: true/offline: true/' labs/spark.yaml > "$work/offline.yaml"
total() { "$lab" up --dry-run -f "$1" | sed -n 's/^downloads: about \([0-9]*\) MB in all.*/\1/p'; }
echo "== the default lab (labs/spark.yaml), network install:"
"$lab" up --dry-run -f labs/spark.yaml | sed -n '/^Downloads on an empty cache/,$p'
echo
echo "== the same lab with offline: true (the DVD):"
"$lab" up --dry-run -f "$work/offline.yaml" | sed -n '/^Downloads on an empty cache/,$p'
net=$(total labs/spark.yaml)
dvd=$(total "$work/offline.yaml")
echo
printf 'first lab, network install: %s MB   (target <= 2500 MB)\n' "$net"
printf 'first lab, offline DVD:     %s MB\n' "$dvd"
if [ "$net" -gt 2500 ]; then
  echo "over the target" >&2
  exit 1
fi
