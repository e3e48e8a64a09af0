#!/usr/bin/env bash
# Benchmark (prints numbers; asserts nothing), as root, on 3 nodes, for the sandbox provider and
# for the existing provider (machines this script makes from a sandbox lab whose `admin` account
# lab then logs in with):
#   - `lab up` + `lab verify` (provisioning and the proof, nodes already answering SSH) against
#     tests/bench/handmade.sh doing the same work with OpenSSH in parallel (target: <= 1.05x)
#   - `lab verify` alone (target: <= 18 s on the sandbox)
#   - a no-op `lab up`, the median of 5 (target: <= 0.3 s)
#   - lab's peak memory while pushing the JDK and Spark to 3 nodes (target: < 64 MiB)
# Usage: bash tests/bench/bench.sh      (builds lab in release mode and the fixtures first)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
say() { printf '== %s\n' "$*" >&2; }
source tests/tools/debian_packages.sh
bash tests/tools/make_fixtures.sh >/dev/null
cargo build --release --quiet
lab="$repo/target/release/lab"
fx="$repo/tests/fixtures/cache"
work=$(mktemp -d)
cache=$(mktemp -d)
export LAB_CACHE_DIR="$cache"
for d in sandbox machines existing; do mkdir -p "$work/$d"; done
cleanup() {
  for d in existing sandbox machines; do (cd "$work/$d" 2>/dev/null && "$lab" destroy --yes -q) || true; done
  rm -rf "$work" "$cache"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
jdk_sum=$(cut -d' ' -f1 "$fx/jdk-17-lab.tar.gz.sha256")
# The same work as handmade.sh, which starts no history server.
software="java: {version: 17, install: tarball, url: \"file://$fx/jdk-17-lab.tar.gz\", sha256: $jdk_sum}
spark: {version: 3.5.7, url: \"file://$fx/spark-3.5.7-bin-hadoop3.tgz\", checksum_url: \"file://$fx/spark-3.5.7-bin-hadoop3.tgz.sha512\", worker_cores: 1, worker_memory: 512m, history: false}"

sandbox_lab() { # NAME NET USER DIR
  cat > "$4/lab.yaml" <<YAML
name: $1
provider: sandbox
network: {cidr: $2.0/24, host: $2.1}
user: $3
workers: 2
$software
YAML
}

median5() { # COMMAND...: the median wall time of 5 runs
  local times=()
  for _ in 1 2 3 4 5; do local t0; t0=$(now); "$@" >/dev/null 2>&1; times+=("$(since "$t0")"); done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

# Measures lab on the lab in the current folder, then the hand-written script on fresh nodes;
# prints the figures under TITLE. Args: TITLE KEY KNOWN_HOSTS USER IP_PREFIX RESET_COMMAND
measure() {
  local title=$1 key=$2 known=$3 user=$4 net=$5 reset=$6
  "$lab" fetch -q >/dev/null
  local t0 out peak
  t0=$(now)
  out=$(LAB_REPORT_PEAK_MEMORY=1 "$lab" up -q 2>&1)
  "$lab" verify -q >/dev/null
  local lab_s; lab_s=$(since "$t0")
  peak=$(printf '%s\n' "$out" | sed -n 's/^lab: peak memory //p')
  t0=$(now); "$lab" verify -q >/dev/null; local verify_s; verify_s=$(since "$t0")
  local noop_s; noop_s=$(median5 "$lab" up -q)
  eval "$reset"
  t0=$(now)
  bash "$repo/tests/bench/handmade.sh" "$key" "$known" "$user" "$fx/jdk-17-lab.tar.gz" "$fx/spark-3.5.7-bin-hadoop3.tgz" "$net.10" "$net.11" "$net.12"
  local script_s; script_s=$(since "$t0")
  echo "== $title"
  printf '  lab up + lab verify (3 nodes):   %6.1f s\n' "$lab_s"
  printf '  hand-written parallel script:    %6.1f s\n' "$script_s"
  printf '  ratio lab / script:              %6.2f   (target <= 1.05)\n' "$(echo "$lab_s / $script_s" | bc -l)"
  printf '  lab verify:                      %6.1f s (target <= 18 s)\n' "$verify_s"
  printf '  no-op lab up (median of 5):      %6.3f s (target <= 0.3 s)\n' "$noop_s"
  printf '  lab peak memory:                 %s   (target < 64 MiB)\n' "$peak"
}

# The sandbox provider.
net=10.251.$((RANDOM % 200))
sandbox_lab bench "$net" spark "$work/sandbox"
cd "$work/sandbox"
"$lab" up --no-provision -q
sandbox_results=$(measure "sandbox provider" "$work/sandbox/.lab/bench/id_ed25519" "$work/sandbox/.lab/bench/known_hosts" spark "$net" \
  '"$lab" destroy --yes -q && "$lab" up --no-provision -q')
"$lab" destroy --yes -q

# The existing provider, on machines made from a sandbox lab (account `admin`, sudo, a key).
net=10.252.$((RANDOM % 200))
sandbox_lab benchm "$net" admin "$work/machines"
(cd "$work/machines" && "$lab" up --no-provision -q)
m="$work/machines/.lab/benchm"
cat > "$work/existing/lab.yaml" <<YAML
name: benchx
provider: existing
network: {cidr: $net.0/24}
workers: 2
existing: {login: admin, identity_file: $m/id_ed25519, known_hosts: $m/known_hosts}
$software
YAML
cd "$work/existing"
existing_results=$(measure "existing provider" "$m/id_ed25519" "$m/known_hosts" admin "$net" '"$lab" destroy --yes -q')
printf '%s\n%s\n' "$sandbox_results" "$existing_results"
