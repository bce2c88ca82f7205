#!/bin/sh
# Build a Debian disk image for cloud-init guests from Debian packages with mmdebstrap,
# and print where it is:
#
#   image   qcow2 of one ext4 file system (no partition table, no boot loader): systemd,
#           openssh-server, cloud-init, sudo, nvme-cli, fio and linux-image-cloud-amd64;
#           no user, no SSH key: cloud-init makes them from the guest's seed
#   kernel  the image's /boot/vmlinuz-*, and initrd its initrd.img-*, for qemu -kernel
#   append  the kernel command line that boots it (root=/dev/vda)
#
# The build is cached in ${JOE_IMAGE_CACHE:-$HOME/.cache/joe-images}/debian-<suite>-<key>,
# keyed by the package versions apt would install and this script; `debian-<suite>`
# links to the newest one, so a second run only asks apt for the versions. As root the
# tree is built in place; otherwise mmdebstrap's unshare mode writes a tarball that
# fakeroot unpacks into the file system, keeping owners and device nodes.
set -eu

CACHE=${JOE_IMAGE_CACHE:-$HOME/.cache/joe-images}
SUITE=${JOE_DEBIAN_SUITE:-bookworm}
PACKAGES="systemd-sysv openssh-server cloud-init sudo linux-image-cloud-amd64 nvme-cli fio
ifupdown isc-dhcp-client dbus e2fsprogs"
HOST_DEBS="mmdebstrap e2fsprogs qemu-utils fakeroot uidmap"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
APPEND="root=/dev/vda rw console=ttyS0"

say() { echo "debian.sh: $*" >&2; }

# Install the host tools that are missing (only those), as the Makefile does.
host_tools() {
  missing=$(for p in $HOST_DEBS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
    grep -q 'install ok installed' || echo "$p"; done)
  [ -z "$missing" ] && return
  say "installing $missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >&2
}

# "package version" of every package named, as apt would install it now.
versions() {
  apt-cache policy $PACKAGES | awk '/^[^ ].*:$/ { p = $1 } /Candidate:/ { print p, $2 }'
}

# The root tree in $W/root, with what cloud-init and the boot need.
bootstrap() {
  if [ "$(id -u)" = 0 ]; then
    mmdebstrap --quiet --variant=apt --include="$(echo $PACKAGES | tr ' ' ,)" \
      "$SUITE" "$W/root" >&2
  else
    mmdebstrap --quiet --mode=unshare --variant=apt \
      --include="$(echo $PACKAGES | tr ' ' ,)" "$SUITE" "$W/root.tar" >&2
  fi
}

# The guest's own settings, written into the tree (under fakeroot when not root): the
# root file system, no host keys or machine id of the build (each guest makes its own),
# and cloud-init's NoCloud source only, so it does not probe for clouds at boot.
settle() {
  R=$W/root
  echo "/dev/vda / ext4 defaults 0 1" >"$R/etc/fstab"
  rm -f "$R"/etc/ssh/ssh_host_*
  : >"$R/etc/machine-id"
  rm -f "$R/var/lib/dbus/machine-id"
  echo "datasource_list: [NoCloud, None]" >"$R/etc/cloud/cloud.cfg.d/90-joe.cfg"
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
  cp -L "$R"/boot/vmlinuz-* "$W/out/vmlinuz"
  cp -L "$R"/boot/initrd.img-* "$W/out/initrd.img"
  chmod 644 "$W/out/vmlinuz" "$W/out/initrd.img"
  kib=$(du -sk "$R" | cut -f1)
  mkfs.ext4 -q -F -L joe-root -d "$R" "$W/disk.raw" $((kib + 1024 * 1024))k >/dev/null
}

# Build everything into $W/out.
build() {
  mkdir -p "$W/out"
  bootstrap
  if [ "$(id -u)" = 0 ]; then
    settle
  else
    export W
    fakeroot sh -c 'mkdir "$W/root" && tar -C "$W/root" -xpf "$W/root.tar" &&
      rm "$W/root.tar" && JOE_DEBIAN_SETTLE=1 sh "$0"' "$0"
  fi
  rm -rf "$W/root"
  qemu-img convert -O qcow2 "$W/disk.raw" "$W/out/disk.qcow2"
  rm "$W/disk.raw"
  echo "$APPEND" >"$W/out/append"
  echo "$VERSIONS" >"$W/out/versions"
}

# Print where the image is.
report() {
  echo "image: $CACHE/debian-$SUITE/disk.qcow2"
  echo "kernel: $CACHE/debian-$SUITE/vmlinuz"
  echo "initrd: $CACHE/debian-$SUITE/initrd.img"
  echo "append: $APPEND"
}

# JOE_DEBIAN_SETTLE=1 (inside fakeroot, with W set) runs only that step.
if [ -n "${JOE_DEBIAN_SETTLE:-}" ]; then
  settle
  exit 0
fi
host_tools
mkdir -p "$CACHE"
exec 9>"$CACHE/.debian.lock"
flock 9 # one build at a time; the others then find it in the cache
VERSIONS=$(versions)
KEY=$({ echo "$SUITE"; echo "$VERSIONS"; cat "$0"; } | sha256sum | cut -c1-16)
if [ ! -e "$CACHE/debian-$SUITE-$KEY/versions" ]; then
  say "building Debian $SUITE into $CACHE/debian-$SUITE-$KEY (about 2 minutes)"
  W=$(mktemp -d "$CACHE/tmp.XXXXXX")
  trap 'rm -rf "$W"' EXIT
  build
  rm -rf "${CACHE:?}/debian-$SUITE-$KEY"
  mv "$W/out" "$CACHE/debian-$SUITE-$KEY"
fi
ln -sfn "debian-$SUITE-$KEY" "$CACHE/debian-$SUITE.tmp"
mv -T "$CACHE/debian-$SUITE.tmp" "$CACHE/debian-$SUITE"
for old in "$CACHE/debian-$SUITE"-????????????????; do # earlier builds
  [ "$old" = "$CACHE/debian-$SUITE-$KEY" ] || rm -rf "$old"
done
report
