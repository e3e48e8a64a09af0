# Sourced by tests/run.sh and tests/bench/bench.sh: installs the Debian packages the sandbox
# nodes and the tests need (util-linux, iproute2, openssh-server, openssh-client, sudo, tmux,
# a JDK 17 with jps, python3, cloud-init; QEMU and debootstrap for the real guests), only those
# missing, without starting any service.
missing=()
command -v blkid >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/jps ] || missing+=(openjdk-17-jdk-headless)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
# Debian's cloud-init: the tests check the seed discs with its own schema and renderers.
command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests need these Debian packages: ${missing[*]}; run as root or install them first" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Install services without starting them (no sshd listening on this machine's port 22).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  rm -f "$policy"; trap - EXIT
fi

# QEMU for the real guests of tests/qemu.rs (software emulation), and what builds their image
# (tests/tools/make_guest_image.sh): without recommends, which would pull firmware packages
# that conflict with a newer qemu-utils from backports.
qemu_missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || qemu_missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || qemu_missing+=(qemu-utils)
command -v debootstrap >/dev/null 2>&1 || qemu_missing+=(debootstrap)
command -v extlinux >/dev/null 2>&1 || qemu_missing+=(extlinux)
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || qemu_missing+=(syslinux-common)
if ((${#qemu_missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests need these Debian packages: ${qemu_missing[*]}; run as root or install them first" >&2
    exit 1
  fi
  say "installing Debian packages: ${qemu_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${qemu_missing[@]}" >/dev/null
fi
