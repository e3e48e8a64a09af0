#!/usr/bin/env bash
# Builds the bootable guest image the real-guest tests (tests/qemu.rs) give lab as the lab file's
# own image, the way a distribution builds its cloud image: Debian 12 from Debian's packages
# (debootstrap), its kernel, systemd, cloud-init (NoCloud), openssh-server, sudo; a partition
# table and a boot loader (extlinux in the MBR), booted by QEMU's firmware like any cloud image.
# Nothing of lab's is in it: lab gives each guest its identity through its seed disc.
#
# The image is kept outside the clone, keyed by this recipe (a hash of this file), and built only
# when missing: ${LAB_TEST_IMAGES:-/var/cache/lab-tests}/debian12-<key>.qcow2 (+ .sha256).
# Prints the image's path. Needs root (debootstrap, loop devices) and Debian's debootstrap,
# extlinux, syslinux-common, qemu-utils (installed when missing).
# Usage: bash tests/tools/make_guest_image.sh [eni|networkmanager]
#   eni (default): cloud-init renders the network for ifupdown, as Debian's own cloud images do;
#   networkmanager: for NetworkManager, as EL9's cloud images do.
set -euo pipefail
renderer=${1:-eni}
case "$renderer" in eni | networkmanager) ;; *) echo "renderer must be eni or networkmanager" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "building the guest image needs root (debootstrap, loop devices)" >&2; exit 1; }
MIRROR=${LAB_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
store=${LAB_TEST_IMAGES:-/var/cache/lab-tests}
key=$( (cat "$0"; echo "$renderer") | sha256sum | cut -c1-16)
out="$store/debian12-$renderer-$key.qcow2"
if [ -s "$out" ] && [ -s "$out.sha256" ]; then echo "$out"; exit 0; fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v extlinux >/dev/null || need+=(extlinux)
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v sfdisk >/dev/null || need+=(fdisk)
if ((${#need[@]})); then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# dbus and libpam-systemd: systemd-logind runs, and powers off on the ACPI power button (QMP
# system_powerdown), as in the distributions' cloud images. locales with en_US.UTF-8 generated:
# cloud-init's locale module applies its default (en_US.UTF-8) and fails on a system without it.
packages=linux-image-amd64,systemd-sysv,udev,dbus,libpam-systemd,locales,cloud-init,python3-cffi-backend,openssh-server,sudo,iproute2,procps,netbase,kmod
case "$renderer" in
  eni) packages+=,ifupdown,isc-dhcp-client ;;
  networkmanager) packages+=,network-manager ;;
esac

mkdir -p "$store"
work=$(mktemp -d /var/tmp/lab-guest-image.XXXXXX)
loop=""
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== debootstrap of Debian 12 ($renderer) from $MIRROR" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; exit 1; }

uuid=$(cat /proc/sys/kernel/random/uuid)
root="$work/root"
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
echo debian >"$root/etc/hostname"
# Every boot is a new machine until cloud-init says who it is.
: >"$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
# Where the image looks for its identity, and how it renders networks (as a distribution's cloud
# image sets both in /etc/cloud/cloud.cfg.d).
# cloud-init's names: `eni` (ifupdown), `network-manager` (cloudinit/net/renderers.py).
case "$renderer" in eni) ci_renderer=eni ;; networkmanager) ci_renderer=network-manager ;; esac
cat >"$root/etc/cloud/cloud.cfg.d/90-image.cfg" <<EOF
datasource_list: [NoCloud, None]
system_info:
  network:
    renderers: [$ci_renderer]
EOF
if [ "$renderer" = eni ]; then
  printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$root/etc/network/interfaces"
else
  chroot "$root" systemctl enable NetworkManager >/dev/null 2>&1
fi
sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null
echo LANG=en_US.UTF-8 >"$root/etc/default/locale"
chroot "$root" apt-get clean
kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -1)
initrd="initrd.img-${kernel#vmlinuz-}"
[ -f "$root/boot/$initrd" ] || { echo "debootstrap made no initramfs ($initrd)" >&2; exit 1; }

echo "== disk: MBR, one bootable ext4 partition, extlinux" >&2
disk="$work/disk.raw"
truncate -s 4G "$disk"
echo '2048,,L,*' | sfdisk -q "$disk"
start=$((2048 * 512))
size=$(($(stat -c %s "$disk") - start))
loop=$(losetup -f --show -o "$start" --sizelimit "$size" "$disk")
mkfs.ext4 -q -F -L root -U "$uuid" -O ^64bit "$loop"
mkdir -p "$work/mnt"
mount "$loop" "$work/mnt"
cp -a "$root"/. "$work/mnt/"
mkdir -p "$work/mnt/boot/extlinux"
cat >"$work/mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 1
LABEL debian
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=UUID=$uuid ro console=ttyS0,115200
EOF
extlinux --install "$work/mnt/boot/extlinux" >/dev/null 2>&1
umount "$work/mnt"
losetup -d "$loop"
loop=""
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none

qemu-img convert -q -O qcow2 "$disk" "$out.tmp"
sha256sum "$out.tmp" | sed "s|  .*|  $(basename "$out")|" >"$out.sha256.tmp"
mv "$out.tmp" "$out"
mv "$out.sha256.tmp" "$out.sha256"
echo "$out"
