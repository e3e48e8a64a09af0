#!/usr/bin/env bash
# Benchmark (prints numbers; asserts nothing): on 3 sandbox nodes, as root,
#   1. `lab up` + `lab verify` (provisioning and verification, nodes already up) against
#      tests/bench/handmade.sh doing the same work with OpenSSH in parallel (target: ratio <= 1.3)
#   2. a no-op `lab up` (target: under 1 s)
#   3. lab's peak memory while pushing the JDK and Spark to 3 nodes (target: under 64 MiB)
# Usage: bash tests/bench/bench.sh      (builds lab in release mode and the fixtures first)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
bash tests/tools/make_fixtures.sh >/dev/null
cargo build --release --quiet
lab="$repo/target/release/lab"
fx="$repo/tests/fixtures/cache"
work=$(mktemp -d)
cache=$(mktemp -d)
net=10.251.$((RANDOM % 200))
cleanup() { (cd "$work" && "$lab" destroy --yes -q) || true; rm -rf "$work" "$cache"; }
trap cleanup EXIT
cat > "$work/lab.yaml" <<YAML
name: bench
provider: sandbox
network: {cidr: $net.0/24, host: $net.1}
workers: 2
java: {version: 17, install: tarball, url: "file://$fx/jdk-17-lab.tar.gz", sha256: $(cut -d' ' -f1 "$fx/jdk-17-lab.tar.gz.sha256")}
spark: {version: 3.5.7, url: "file://$fx/spark-3.5.7-bin-hadoop3.tgz", checksum_url: "file://$fx/spark-3.5.7-bin-hadoop3.tgz.sha512", worker_cores: 1, worker_memory: 512m}
YAML
cd "$work"
export LAB_CACHE_DIR="$cache"
"$lab" fetch -q >/dev/null
now() { date +%s.%N; }

"$lab" up --no-provision -q
t0=$(now)
out=$(LAB_REPORT_PEAK_MEMORY=1 "$lab" up -q 2>&1)
"$lab" verify -q >/dev/null
t1=$(now)
peak=$(printf '%s\n' "$out" | sed -n 's/^lab: peak memory //p')
t2=$(now); "$lab" up -q; t3=$(now)
"$lab" destroy --yes -q

"$lab" up --no-provision -q
t4=$(now)
bash "$repo/tests/bench/handmade.sh" "$work/.lab/bench" "$fx/jdk-17-lab.tar.gz" "$fx/spark-3.5.7-bin-hadoop3.tgz" "$net.10" "$net.11" "$net.12"
t5=$(now)

lab_s=$(echo "$t1 - $t0" | bc -l); script_s=$(echo "$t5 - $t4" | bc -l); noop_s=$(echo "$t3 - $t2" | bc -l)
printf 'lab up + lab verify (3 nodes):   %6.1f s\n' "$lab_s"
printf 'hand-written parallel script:    %6.1f s\n' "$script_s"
printf 'ratio lab / script:              %6.2f   (target <= 1.30)\n' "$(echo "$lab_s / $script_s" | bc -l)"
printf 'no-op lab up:                    %6.3f s (target < 1 s)\n' "$noop_s"
printf 'lab peak memory:                 %s   (target < 64 MiB)\n' "$peak"
