#!/usr/bin/env bash
# An upgrade check (as root; not part of `bash tests/run.sh`: building the older lab takes about
# ten minutes). A sandbox lab (Spark 4.3.0, two nodes) is built and verified by lab at an older
# commit, then `lab up` of this checkout must converge it without `lab destroy`: every Spark
# JVM runs as sparkd (none as the lab user), sparkd cannot use sudo, the daemons' settings are
# sparkd's alone, Spark Connect answers only on the master's loopback, and `lab verify` passes,
# the history server still listing the jobs the older lab ran. Fails naming what differs.
# Usage: bash tests/tools/upgrade_check.sh [OLD_COMMIT]   (default 9efcb03: no Spark secret,
#        daemons as the lab user, firewalld trusting the lab network); OLD_LAB=path uses a lab
#        binary already built at that commit.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
old=${1:-9efcb03}
say() { printf '== %s\n' "$*" >&2; }
fail() { printf 'upgrade check FAILED: %s\n' "$*" >&2; exit 1; }
source tests/tools/debian_packages.sh
bash tests/tools/make_fixtures.sh >/dev/null
work=$(mktemp -d)
old_lab=${OLD_LAB:-$work/old-target/debug/lab}
cleanup() {
  (cd "$work/lab" 2>/dev/null && "$repo/target/debug/lab" destroy --yes -q) || true
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  git -C "$repo" worktree remove --force "$work/old" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${OLD_LAB:-}" ]; then
  say "building lab at $old"
  git -C "$repo" worktree add --detach "$work/old" "$old" >/dev/null
  (cd "$work/old" && CARGO_TARGET_DIR="$work/old-target" cargo build --locked --quiet -p lab)
fi
say "building lab at this checkout"
cargo build --locked --quiet -p lab
new_lab="$repo/target/debug/lab"

fx="$repo/tests/fixtures/cache"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$fx" >/dev/null 2>&1 &
server=$!
net=10.231.$((RANDOM % 200 + 20))
mkdir -p "$work/lab"
cat > "$work/lab/lab.yaml" <<EOF
name: upgrade
provider: sandbox
network: {cidr: $net.0/24, host: $net.1}
user: spark
nodes:
  - {name: master, role: master, ip: $net.10}
  - {name: node1, role: worker, ip: $net.11}
java:
  version: 17
  install: tarball
  url: http://127.0.0.1:$port/jdk-17-lab.tar.gz
  sha256: $(cut -d' ' -f1 "$fx/jdk-17-lab.tar.gz.sha256")
spark:
  version: "4.3.0"
  url: http://127.0.0.1:$port/spark-4.3.0-bin-hadoop3.tgz
  checksum_url: http://127.0.0.1:$port/spark-4.3.0-bin-hadoop3.tgz.sha512
  worker_cores: 1
  worker_memory: 512m
verify:
  timeout: 240
EOF
export LAB_CACHE_DIR="$work/cache"
cd "$work/lab"
say "the lab, by lab $old"
"$old_lab" up -q
"$old_lab" verify -q || fail "the older lab's own verify failed"
old_app=$("$old_lab" --json verify | python3 -c 'import json,sys; print([c["evidence"] for c in json.load(sys.stdin)["checks"] if c["check"]=="history_server"][0].split("verify job ")[1].split(",")[0])')
say "lab up by this checkout, over it"
"$new_lab" up -q
"$new_lab" verify -q || fail "lab verify after the upgrade"
on() { "$new_lab" ssh "$1" -- "$2"; }
for n in master node1; do
  users=$(on "$n" 'ps -o user= -C java | sort -u')
  [ "$users" = sparkd ] || fail "$n: Spark's JVMs run as: $users"
  on "$n" 'sudo -l -U sparkd' | grep -q 'not allowed to run sudo' || fail "$n: sparkd may use sudo"
  [ "$(on "$n" 'sudo stat -c %a:%U /var/lib/lab-spark/daemon.conf')" = 600:sparkd ] || fail "$n: the daemons' settings are not sparkd's alone"
done
if timeout 3 bash -c "exec 3<>/dev/tcp/$net.10/15002" 2>/dev/null; then fail "Spark Connect answers on the lab network"; fi
sleep 6
curl -fsS "http://$net.10:18080/api/v1/applications" | grep -q "$old_app" || fail "the history server lost $old_app, run by the older lab"
echo "upgrade check passed: $old -> $(git -C "$repo" rev-parse --short HEAD)"
