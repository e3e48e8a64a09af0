#!/usr/bin/env bash
# Benchmark of base images (prints numbers; asserts nothing), as root, through the VBoxManage
# stand-in with its costs at a realistic scale: an install takes $INSTALL s (a real Anaconda
# install of CentOS Stream 9 takes about 8 min), an installed OS is $OS_MB MB on disk, a linked
# clone is a moment, a full copy as long as copying. Three 3-node labs, VM phase only
# (`lab up --no-provision`):
#   - per-node install (today's way before bases): every VM installs from the ISO
#   - a first lab with bases, when no base exists yet (one install, then clones)
#   - a second lab, the base already there (target: its VM phase >= 5x faster than per-node)
#   - disk used by three linked nodes and their base, against one installed OS (target: <= 1.3x)
# Usage: bash tests/bench/base.sh     (INSTALL=90 OS_MB=400 by default)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
say() { printf '== %s\n' "$*" >&2; }
source tests/tools/debian_packages.sh
INSTALL=${INSTALL:-90}
OS_MB=${OS_MB:-400}
cargo build --release --quiet -p lab -p vboxmanage-standin
lab="$repo/target/release/lab"
work=$(mktemp -d)
export VBOXMANAGE="$repo/target/release/VBoxManage" VBOXSTANDIN_HOME="$work/world" LAB_CACHE_DIR="$work/cache"
export VBOXSTANDIN_INSTALL_SECONDS=$INSTALL VBOXSTANDIN_OS_MB=$OS_MB NO_PROXY=127.0.0.1 LAB_BOOT_KEYS_DELAY=2
mkdir -p "$VBOXSTANDIN_HOME" "$LAB_CACHE_DIR" "$work/served"
# The three subnets, held as the tests hold theirs (so a test run beside this one takes others).
mkdir -p /tmp/lab-test-nets
for n in 60 61 62; do
  exec {fd}>"/tmp/lab-test-nets/192.168.$n"
  flock -w 900 "$fd" || { echo "192.168.$n.0/24 stays taken by a test run" >&2; exit 1; }
done
# Any file with the right checksum will do for the ISO: the stand-in reads only lab's discs.
head -c 2000000 /dev/urandom > "$work/served/CentOS-Stream-9-latest-x86_64-dvd1.iso"
iso_sum=$(sha256sum "$work/served/CentOS-Stream-9-latest-x86_64-dvd1.iso" | cut -d' ' -f1)
port=$((20000 + RANDOM % 20000))
python3 -m http.server --bind 127.0.0.1 --directory "$work/served" "$port" >/dev/null 2>&1 &
server=$!
cleanup() {
  for d in per-node first second; do (cd "$work/$d" 2>/dev/null && "$lab" destroy --yes -q) || true; done
  "$lab" base prune -q >/dev/null 2>&1 || true
  kill "$server" 2>/dev/null || true
  python3 - "$VBOXSTANDIN_HOME/state.json" <<'PY' 2>/dev/null | sh 2>/dev/null || true
import json, sys
w = json.load(open(sys.argv[1]))
for vm in w.get("vms", []):
    if vm.get("pid"): print(f"kill -9 {vm['pid']}")
    short = "".join(c for c in vm["uuid"] if c in "0123456789abcdef")[:8]
    print(f"ip netns del vbx-{short}")
for i in w.get("hostonlyifs", []): print(f"ip link del {i.get('bridge') or i['name']}")
PY
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
du_mb() { du -sm "$@" | awk '{s += $1} END {print s}'; }

write_lab() { # DIR NAME SUBNET INSTALL_LINE
  mkdir -p "$1"
  cat > "$1/lab.yaml" <<YAML
name: $2
provider: virtualbox
image: centos-stream-9
iso: {url: "http://127.0.0.1:$port/CentOS-Stream-9-latest-x86_64-dvd1.iso", sha256: $iso_sum}
network: {cidr: 192.168.$3.0/24, host: 192.168.$3.1}
workers: 2
$4
java: {version: 17, install: package}
spark: {version: 3.5.7, url: "http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz", checksum_url: "http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz.sha512"}
YAML
}
vm_phase() { # DIR: seconds of `lab up --no-provision`
  local t0; t0=$(now)
  (cd "$1" && "$lab" up --no-provision -q)
  since "$t0"
}
write_lab "$work/per-node" benchpn 60 "install: per-node"
write_lab "$work/first" benchb1 61 ""
write_lab "$work/second" benchb2 62 ""
say "per-node install (3 installs of ${INSTALL} s in parallel)"
per_node=$(vm_phase "$work/per-node")
say "first lab with bases (makes the base)"
first=$(vm_phase "$work/first")
say "second lab (the base exists)"
second=$(vm_phase "$work/second")
one_os=$(echo "$(du_mb "$work/per-node/.lab/benchpn/vms") / 3" | bc -l)
linked=$(du_mb "$work/second/.lab/benchb2/vms" "$LAB_CACHE_DIR/bases")
echo "== base images through the stand-in (install ${INSTALL} s, installed OS ${OS_MB} MB; 3 nodes, lab up --no-provision)"
printf '  per-node install, VM phase:        %6.1f s\n' "$per_node"
printf '  first lab (makes the base):        %6.1f s\n' "$first"
printf '  second lab (base exists):          %6.1f s\n' "$second"
printf '  speed-up, second lab vs per-node:  %6.1fx  (target >= 5x)\n' "$(echo "$per_node / $second" | bc -l)"
printf '  one installed OS (per-node disk):  %6.0f MB\n' "$one_os"
printf '  3 linked nodes + their base:       %6.0f MB\n' "$linked"
printf '  ratio to one installed OS:         %6.2f   (target <= 1.3)\n' "$(echo "$linked / $one_os" | bc -l)"
