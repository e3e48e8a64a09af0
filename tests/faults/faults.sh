#!/usr/bin/env bash
# Fault injection (prints numbers; asserts nothing; run as root), on the sandbox provider and on
# the VirtualBox provider through the VBoxManage stand-in, 2 nodes each:
#   - ROUNDS times: from nothing, `lab up` is killed with SIGKILL at a random moment of its run;
#     then `lab up` must converge and `lab verify` be green.
#   - once: a node's link is cut for a few seconds while `lab up` provisions it; then `lab up`
#     must converge and `lab verify` be green.
#   - at the end `lab destroy` must leave nothing: no namespace, link, mount, process, VM,
#     host-only interface, or file beside the lab file.
# It prints "N faults survived, M leftovers" (and what failed or was left, if anything).
# Usage: sudo bash tests/faults/faults.sh [ROUNDS]     (default 20 per provider; about 25 min)
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
rounds=${1:-20}
[ "$(id -u)" = 0 ] || { echo "faults.sh needs root (namespaces, bridges): sudo bash tests/faults/faults.sh" >&2; exit 2; }
command -v bc >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; } || { echo "faults.sh needs bc" >&2; exit 2; }
bash tests/tools/make_fixtures.sh >/dev/null || { echo "building the fixtures failed" >&2; exit 2; }
cargo build --release --quiet && cargo build --release --quiet -p vboxmanage-standin || exit 2
lab="$repo/target/release/lab"
fx="$repo/tests/fixtures/cache"
work=$(mktemp -d /tmp/lab-faults.XXXXXX)
export LAB_CACHE_DIR="$work/cache"
export VBOXMANAGE="$repo/target/release/VBoxManage" VBOXSTANDIN_HOME="$work/world" VBOXSTANDIN_INSTALL_SECONDS=3
# The installer's boot menu shows 1 s after power-on; lab types its keys 2 s after.
export LAB_BOOT_KEYS_DELAY=2
mkdir -p "$work/sandbox" "$work/vbox" "$work/world" "$work/logs"
# The VirtualBox lab's host-only subnet, held the way the tests hold theirs (tests/vbox.rs).
mkdir -p /tmp/lab-test-nets
exec 9>/tmp/lab-test-nets/192.168.58
flock 9
survived=0
faults=0
leftovers=0
failures=()

cleanup() {
  for d in sandbox vbox; do (cd "$work/$d" && "$lab" destroy --yes -q >/dev/null 2>&1) || true; done
  (cd "$work/vbox" 2>/dev/null && "$lab" base prune -q >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

jdk_sum=$(cut -d' ' -f1 "$fx/jdk-17-lab.tar.gz.sha256")
software="java: {version: 17, install: tarball, url: \"file://$fx/jdk-17-lab.tar.gz\", sha256: $jdk_sum}
spark: {version: 3.5.7, url: \"file://$fx/spark-3.5.7-bin-hadoop3.tgz\", checksum_url: \"file://$fx/spark-3.5.7-bin-hadoop3.tgz.sha512\", worker_cores: 1, worker_memory: 512m}"
net=10.252.$((RANDOM % 200))
write_sandbox() { # SPARK_SHELL
  cat > "$work/sandbox/lab.yaml" <<YAML
name: faults-sb
provider: sandbox
network: {cidr: $net.0/24, host: $net.1}
workers: 1
$software
verify: {spark_shell: $1}
YAML
}
iso="$work/centos.iso"
head -c 2000000 /dev/urandom > "$iso"
iso_sum=$(sha256sum "$iso" | cut -d' ' -f1)
write_vbox() { # SPARK_SHELL
  cat > "$work/vbox/lab.yaml" <<YAML
name: faults-vb
provider: virtualbox
image: centos-stream-9
iso: {url: "file://$iso", sha256: $iso_sum}
network: {cidr: 192.168.58.0/24, host: 192.168.58.1}
workers: 1
$software
verify: {spark_shell: $1}
YAML
}
write_sandbox false
write_vbox false

now() { date +%s.%N; }

# What of the lab in folder DIR (provider PROVIDER) exists on this machine, one line per thing.
traces() { # DIR NAME PROVIDER
  local dir=$1 name=$2
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^lab-$name-" | sed 's/^/namespace /'
  ip -o link show 2>/dev/null | grep -F "lab:$dir" | awk -F': ' '{print "link " $2}'
  grep -F -e "$dir" -e "lab-$name-" /proc/self/mountinfo | awk '{print "mount " $5}'
  pgrep -af -- "$dir" | grep -v -e faults.sh -e pgrep | sed 's/^/process /'
  find "$dir" -mindepth 1 -maxdepth 1 ! -name lab.yaml | sed 's/^/file /'
  if [ "$3" = virtualbox ]; then
    "$VBOXMANAGE" list vms 2>/dev/null | sed 's/^/vm /'
    "$VBOXMANAGE" list hostonlyifs 2>/dev/null | grep '^Name:' | sed 's/^Name: */host-only interface /'
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^vbx-' | sed 's/^/guest namespace /'
  fi
}

# `lab up` then `lab verify`, both must succeed.
converge() { # DIR LOG
  (cd "$1" && "$lab" up -q >>"$2" 2>&1 && "$lab" verify -q >>"$2" 2>&1)
}

# The netns holding ADDRESS, and its host-side link.
host_link_of() { # ADDRESS
  local ns idx
  for ns in $(ip netns list | awk '{print $1}'); do
    if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " $1/"; then
      idx=$(ip -n "$ns" -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p')
      ip -o link show | awk -F': ' -v i="$idx" '$1 == i {split($2, a, "@"); print a[1]}'
      return
    fi
  done
}

run_provider() { # KIND DIR NAME NODE1_ADDRESS
  local kind=$1 dir=$2 name=$3 node1=$4 t0 full log pid at
  cd "$dir" || return
  "$lab" destroy --yes -q >/dev/null 2>&1
  t0=$(now)
  "$lab" up -q >"$work/logs/$kind-first.log" 2>&1 || { failures+=("$kind: the first, undisturbed lab up failed: $(tail -n 3 "$work/logs/$kind-first.log")"); return; }
  full=$(echo "$(now) - $t0" | bc -l)
  printf '%s: an undisturbed lab up takes %.1f s\n' "$kind" "$full"
  for r in $(seq 1 "$rounds"); do
    "$lab" destroy --yes -q >/dev/null 2>&1
    log="$work/logs/$kind-$r.log"
    at=$(echo "scale=2; $full * $((RANDOM % 1000)) / 1000" | bc -l)
    "$lab" up -q >"$log" 2>&1 &
    pid=$!
    sleep "$at"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    faults=$((faults + 1))
    if converge "$dir" "$log"; then
      survived=$((survived + 1))
      printf '%s: round %d: killed at %5.1f s; converged, verified\n' "$kind" "$r" "$at"
    else
      failures+=("$kind round $r (killed at $at s): $(tail -n 4 "$log" | tr '\n' ' ')")
      printf '%s: round %d: killed at %5.1f s; FAILED to converge (log: %s)\n' "$kind" "$r" "$at" "$log"
    fi
  done
  # A cut network while provisioning.
  "$lab" destroy --yes -q >/dev/null 2>&1
  log="$work/logs/$kind-cut.log"
  "$lab" up -q >"$log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 120)) link=""
  while [ -z "$link" ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.5
    link=$(host_link_of "$node1")
  done
  sleep "$(echo "scale=2; $full / 3" | bc -l)"
  faults=$((faults + 1))
  if [ -n "$link" ]; then
    ip link set "$link" down
    sleep 4
    ip link set "$link" up
  fi
  wait "$pid"
  local first=$?
  if [ -n "$link" ] && converge "$dir" "$log"; then
    survived=$((survived + 1))
    printf '%s: node1 cut off for 4 s while provisioning (that lab up exited %d); converged, verified\n' "$kind" "$first"
  else
    failures+=("$kind network cut (link '${link:-not found}'): $(tail -n 4 "$log" | tr '\n' ' ')")
    printf '%s: network cut: FAILED (log: %s)\n' "$kind" "$log"
  fi
  # The full proof once, then nothing left behind.
  if [ "$kind" = sandbox ]; then write_sandbox true; else write_vbox true; fi
  "$lab" verify -q >>"$log" 2>&1 || failures+=("$kind: the final lab verify with the Spark job failed")
  "$lab" destroy --yes -q >>"$log" 2>&1 || failures+=("$kind: lab destroy failed")
  # lab destroy keeps the base image for the next lab; with no lab left, prune removes it.
  if [ "$kind" = vbox ]; then "$lab" base prune -q >>"$log" 2>&1 || failures+=("$kind: lab base prune failed"); fi
  local left
  left=$(traces "$dir" "$name" "$kind")
  if [ -n "$left" ]; then
    leftovers=$((leftovers + $(printf '%s\n' "$left" | wc -l)))
    failures+=("$kind leftovers: $(printf '%s; ' "$left")")
  fi
  cd "$repo" || return
}

run_provider sandbox "$work/sandbox" faults-sb "$net.11"
run_provider virtualbox "$work/vbox" faults-vb 192.168.58.11

echo
for f in "${failures[@]}"; do echo "  $f"; done
echo "$survived faults survived, $leftovers leftovers (of $faults faults)"
[ "$survived" = "$faults" ] && [ "$leftovers" = 0 ] && [ "${#failures[@]}" = 0 ]
