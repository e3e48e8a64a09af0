#!/usr/bin/env bash
# Runs every test of lab, installing first what the tests need on a fresh Debian machine:
#   Debian packages: util-linux (blkid), python3 + pip
#   PyPI packages:   pykickstart (ksvalidator, kickstart parser), pycdlib (ISO reader)
# Usage: bash tests/run.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }

missing=()
command -v blkid >/dev/null 2>&1 || missing+=(util-linux)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests need these Debian packages: ${missing[*]}; run as root or install them first" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

say "installing Python test tools (pykickstart, pycdlib)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'pykickstart==3.78' 'pycdlib==1.22.0' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
  'pykickstart==3.78' 'pycdlib==1.22.0'
command -v ksvalidator >/dev/null || { echo "ksvalidator is not on PATH after installing pykickstart" >&2; exit 1; }

say "cargo test"
cargo test --locked "$@"
