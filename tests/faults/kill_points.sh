#!/usr/bin/env bash
# Every kill point (as root): lab killed right after each of its VBoxManage calls in turn, per
# node VMs and while making a base; after each, `lab up` must converge and `destroy` leave
# nothing. CI tries a printed, seeded sample of these (tests/vbox_hosts.rs); this tries all
# (about 15 min).
# Usage: sudo bash tests/faults/kill_points.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "kill_points.sh needs root (namespaces, bridges): sudo bash tests/faults/kill_points.sh" >&2; exit 2; }
bash tests/tools/make_fixtures.sh >/dev/null
cargo build --quiet -p vboxmanage-standin
LAB_KILL_ALL=1 cargo test --test integration -- --nocapture killed_after_any
