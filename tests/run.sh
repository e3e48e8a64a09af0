#!/usr/bin/env bash
# Runs every test of lab, installing first what the tests need on a fresh Debian machine:
#   Debian packages: util-linux (blkid, unshare, setpriv), iproute2, openssh-server (sshd for
#                    sandbox nodes), openssh-client, sudo, python3 + pip, qemu-system-x86,
#                    qemu-utils, debootstrap, extlinux (real guests: tests/qemu.rs)
#                    gcc-mingw-w64-x86-64 and wine64 (lab.exe cross-built and run under Wine)
#   PyPI packages:   pykickstart (ksvalidator, kickstart parser), pycdlib (ISO reader),
#                    ziglang + cargo-zigbuild (lab compiled for macOS)
#   Rust targets:    x86_64-pc-windows-gnu, aarch64-apple-darwin, x86_64-apple-darwin
# Usage: bash tests/run.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it began (seconds since the start), so a slow step shows in CI's log.
start=$SECONDS
say() { printf '== [%4ds] %s\n' "$((SECONDS - start))" "$*"; }

source tests/tools/debian_packages.sh

say "installing Python test tools (pykickstart, pycdlib, PyYAML)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'pykickstart==3.78' 'pycdlib==1.22.0' 'PyYAML==6.0.3' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
  'pykickstart==3.78' 'pycdlib==1.22.0' 'PyYAML==6.0.3'
command -v ksvalidator >/dev/null || { echo "ksvalidator is not on PATH after installing pykickstart" >&2; exit 1; }

say "building the test fixtures (Spark and JDK tarballs, served from 127.0.0.1)"
bash tests/tools/make_fixtures.sh >/dev/null

say "building the real guests' image (Debian 12 by debootstrap, NetworkManager as on EL9, kept in /var/cache/lab-tests by recipe)"
bash tests/tools/make_guest_image.sh "${LAB_TEST_GUEST_RENDERER:-networkmanager}" >/dev/null

say "checking formatting and lints (cargo fmt, cargo clippy -D warnings)"
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings

say "Windows: cross-building lab.exe (mingw-w64), its unit tests under Wine"
if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || [ ! -x /usr/lib/wine/wine64 ]; then
  say "installing Debian packages: gcc-mingw-w64-x86-64 wine64"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 wine64 >/dev/null
fi
for t in x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
cargo clippy --locked --target x86_64-pc-windows-gnu --bin lab -- -D warnings
# The Windows build's tests move little data: its dependencies need neither optimising nor debug
# information, which halves the time it takes to build.
winbuild=(--config 'profile.dev.package."*".opt-level=0' --config 'profile.dev.debug=0')
cargo build --locked "${winbuild[@]}" --target x86_64-pc-windows-gnu --bin lab
win=target/x86_64-pc-windows-gnu/debug
# Wine 8 lacks ProcessPrng, which Rust's standard library calls: a shim DLL beside the programs.
x86_64-w64-mingw32-gcc -shared -O2 -o "$win/bcryptprimitives.dll" tests/windows/processprng.c tests/windows/processprng.def -ladvapi32
mkdir -p "$win/deps" && cp "$win/bcryptprimitives.dll" "$win/deps/"
export WINEPREFIX="$PWD/target/wine" WINEDEBUG=-all WINEDLLOVERRIDES=bcryptprimitives=n,b
# A new prefix is made once and finished (wineserver -w waits for wineboot's last process)
# before the tests start many Wine processes at once.
[ -d "$WINEPREFIX" ] || { /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true; /usr/lib/wine/wineserver -w || true; }
say "Windows unit tests under Wine (Wine's icacls is a stub that sets and lists nothing: the owner-only ACLs of key files are checked only on a real Windows)"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64 cargo test --locked "${winbuild[@]}" --target x86_64-pc-windows-gnu --bin lab
# The integration tests drive this lab.exe too (tests/windows.rs).
export LAB_WINDOWS_EXE="$PWD/$win/lab.exe"

say "macOS: compiling lab for Apple Silicon and Intel Macs (cargo-zigbuild; linking needs Apple's SDK)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'ziglang==0.17.1' 'cargo-zigbuild==0.24.1' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'ziglang==0.17.1' 'cargo-zigbuild==0.24.1'
for t in aarch64-apple-darwin x86_64-apple-darwin; do
  cargo-zigbuild clippy --locked --target "$t" --bin lab -- -D warnings
done

say "building the VBoxManage stand-in"
cargo build --locked -p vboxmanage-standin

say "cargo test (the stand-in's own tests, then lab's)"
cargo test --locked -p vboxmanage-standin
cargo test --locked -p lab "$@"
say "all tests passed"
