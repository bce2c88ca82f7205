#!/bin/sh
# Build the test guest from Debian packages only, and print where it is:
#
#   kernel  the newest linux-image-6.1.0-*-cloud-amd64 (NVMe built in)
#   initrd  busybox-static, dropbear (with its libraries), the virtio modules, an /init
#           that brings up eth0 as 10.0.2.15 (QEMU user networking), starts dropbear on
#           port 22 for root with the test key, and prints "joe-guest: ready"
#   tools   an ext4 disk (virtio, read-only) mounted on /usr: fio, nvme-cli, sftp-server and
#           their libraries
#   key     the test key pair (ed25519), made once per cache; never committed
#
# The build is cached in ${JOE_GUEST_CACHE:-$HOME/.cache/joe-guest}/<key>, keyed by the
# package versions, this script and the public key; `current` links to the newest one,
# so a second run only asks apt for the versions. Runs as any user: apt-get update and
# install go through sudo when not root, and the initramfs's device node is made under
# fakeroot.
set -eu

CACHE=${JOE_GUEST_CACHE:-$HOME/.cache/joe-guest}
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover
net_failover virtio_net virtio_blk button evdev"
HOST_DEBS="cpio e2fsprogs fakeroot openssh-client qemu-system-x86 qemu-utils socat"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
MA=x86_64-linux-gnu
TOOLS="busybox-static dropbear-bin fio nvme-cli openssh-sftp-server"

say() { echo "build.sh: $*" >&2; }

# Install the host tools that are missing (only those), as the Makefile does.
host_tools() {
  missing=$(for p in $HOST_DEBS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
    grep -q 'install ok installed' || echo "$p"; done)
  [ -z "$missing" ] && return
  say "installing $missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >&2
}

# "package: version" of the guest's packages and every 6.1 cloud kernel apt could
# download (one apt-cache call: that is most of the time of a cached run).
candidates() {
  apt-cache policy $TOOLS 'linux-image-6.1.0-*-cloud-amd64' |
    awk '/^[^ ].*:$/ { p = $1 } /Candidate:/ && $2 != "(none)" { print p, $2 }' | sort -V
}

# The versions to build from, the newest kernel last; updates apt's lists once when they
# hold no cloud kernel.
pick_versions() {
  c=$(candidates)
  if ! echo "$c" | grep -q '^linux-image'; then
    $SUDO apt-get update -qq
    c=$(candidates)
  fi
  echo "$c" | grep -q '^linux-image' || { say "no linux-image-6.1.0-*-cloud-amd64 in apt's lists"; exit 1; }
  echo "$c" | grep -v '^linux-image'
  echo "$c" | grep '^linux-image' | tail -1
}

# The library packages (lib*, zlib1g) that the given packages depend on, recursively.
lib_closure() {
  seen="" queue="$*"
  while [ -n "$queue" ]; do
    seen="$seen $queue"
    next=$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $queue | awk '/^  (Pre)?Depends: [^<]/ { print $2 }' |
      grep -E '^(lib|zlib)' | sort -u)
    queue=""
    for p in $next; do
      case " $seen $queue " in *" $p "*) ;; *) queue="$queue $p" ;; esac
    done
  done
  echo $seen
}

# Download the packages and unpack them all into one tree.
fetch() {
  mkdir -p "$W/debs" "$W/stage"
  (cd "$W/debs" && apt-get -q -o APT::Sandbox::User=root download "$@" >/dev/null)
  for deb in "$W"/debs/*.deb; do dpkg-deb -x "$deb" "$W/stage"; done
}

# The files (paths inside the stage) of the libraries a staged binary loads, as ldd
# names them; fails when one is not in the stage.
libs_of() {
  S=$W/stage
  "$S/lib/$MA/ld-linux-x86-64.so.2" --library-path "$S/lib/$MA:$S/usr/lib/$MA:$S/usr/lib/$MA/ceph" \
    --list "$S/$1" | awk '/=> / { print $1, $3 }' | while read -r soname path; do
    rel=${path#"$S"/}
    rel=${rel#/}
    [ -e "$S/$rel" ] || { say "$1 needs $soname, which is not in the packages"; exit 1; }
    echo "$rel"
  done
}

# Copy staged file rel to dir/dest, resolving symlinks.
install_file() {
  mkdir -p "$(dirname "$2/$3")"
  cp -L "$W/stage/$1" "$2/$3"
}

# busybox and its applets in /bin and /sbin (not /usr: the tools disk is mounted there).
add_busybox() {
  install_file bin/busybox "$R" bin/busybox
  "$R/bin/busybox" --list-full | sed 's#^usr/##' | while read -r applet; do
    [ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
  done
}

# dropbear, its libraries and the dynamic loader, its host keys, root's authorized key.
add_dropbear() {
  install_file usr/sbin/dropbear "$R" sbin/dropbear
  libs=$(libs_of usr/sbin/dropbear)
  for lib in $libs; do install_file "$lib" "$R" "lib/$MA/${lib##*/}"; done
  install_file "lib/$MA/ld-linux-x86-64.so.2" "$R" "lib/$MA/ld-linux-x86-64.so.2"
  mkdir -p "$R/lib64" "$R/etc/dropbear" "$R/root/.ssh"
  ln -s "/lib/$MA/ld-linux-x86-64.so.2" "$R/lib64/ld-linux-x86-64.so.2"
  S=$W/stage
  for t in ed25519 rsa; do
    "$S/lib/$MA/ld-linux-x86-64.so.2" --library-path "$S/lib/$MA:$S/usr/lib/$MA" \
      "$S/usr/bin/dropbearkey" -t $t -f "$R/etc/dropbear/dropbear_${t}_host_key" >/dev/null 2>&1
  done
  cp "$CACHE/id_ed25519.pub" "$R/root/.ssh/authorized_keys"
  chmod 700 "$R/root" "$R/root/.ssh"
  chmod 600 "$R/root/.ssh/authorized_keys"
}

# The kernel modules /etc/rc loads, in load order (those built in are skipped).
add_modules() {
  kdir=$(ls -d "$W"/stage/lib/modules/*)
  : >"$R/etc/modules"
  for m in $MODULES; do
    f=$(find "$kdir" -name "$m.ko" | head -1)
    [ -n "$f" ] || continue
    rel=${f#"$W"/stage/}
    install_file "$rel" "$R" "$rel"
    echo "/$rel" >>"$R/etc/modules"
  done
}

# /init is busybox init; /etc/rc sets the machine up and prints the marker.
add_config() {
  d=$(dirname "$0")
  mkdir -p "$R/proc" "$R/sys" "$R/dev" "$R/run" "$R/tmp" "$R/usr" "$R/var/log"
  ln -s bin/busybox "$R/init"
  cp "$d/rc" "$R/etc/rc"
  chmod 755 "$R/etc/rc"
  printf '::sysinit:/etc/rc\n::shutdown:/bin/umount -a -r\n' >"$R/etc/inittab"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
  echo 'root:x:0:' >"$R/etc/group"
  echo /bin/sh >"$R/etc/shells"
  echo joe-guest >"$R/etc/hostname"
  mkdir -p "$R/etc/acpi/PWRF"
  printf '#!/bin/sh\nsync\nexec poweroff -f\n' >"$R/etc/acpi/PWRF/00000080" # no 2 s of init
  chmod 755 "$R/etc/acpi/PWRF/00000080"
}

# The initramfs, with the console device the kernel opens for init (made under fakeroot
# when not root: cpio then stores it as a device all the same).
archive() {
  fake=$([ "$(id -u)" = 0 ] || echo fakeroot)
  $fake sh -c 'cd "$1" && mknod -m 600 dev/console c 5 1 &&
    find . | cpio -o -H newc -R 0:0 --quiet' sh "$R" | gzip -9 >"$W/out/initrd.img"
}

# The tools disk: fio, nvme-cli, OpenSSH's sftp-server (where dropbear looks for it:
# /usr/lib) and the libraries they load that the initramfs lacks, under /usr.
make_tools_disk() {
  T=$W/tools
  install_file usr/bin/fio "$T" bin/fio
  install_file usr/sbin/nvme "$T" sbin/nvme
  install_file usr/lib/openssh/sftp-server "$T" lib/sftp-server
  libs=$(libs_of usr/bin/fio; libs_of usr/sbin/nvme; libs_of usr/lib/openssh/sftp-server)
  for lib in $libs; do
    [ -e "$R/lib/$MA/${lib##*/}" ] && continue
    case $lib in usr/*) dest=${lib#usr/} ;; *) dest=lib/$MA/${lib##*/} ;; esac
    install_file "$lib" "$T" "$dest"
  done
  kib=$(du -sk "$T" | cut -f1)
  mkfs.ext4 -q -F -L joe-tools -O ^has_journal -d "$T" "$W/out/tools.img" $((kib * 5 / 4 + 4096))k >/dev/null
}

# Build everything into $W/out.
build() {
  fetch "$KERNEL" $TOOLS $(lib_closure fio nvme-cli dropbear-bin openssh-sftp-server)
  R=$W/initramfs
  mkdir -p "$R/etc" "$R/bin" "$R/sbin" "$W/out"
  add_busybox
  add_dropbear
  add_modules
  add_config
  archive
  cp "$(ls "$W"/stage/boot/vmlinuz-*)" "$W/out/vmlinuz"
  make_tools_disk
  cp "$CACHE/id_ed25519" "$CACHE/id_ed25519.pub" "$W/out/"
  echo "$VERSIONS" >"$W/out/versions"
}

# Print where the guest is.
report() {
  for f in kernel:vmlinuz initrd:initrd.img tools:tools.img key:id_ed25519; do
    echo "${f%%:*}: $CACHE/current/${f#*:}"
  done
}

host_tools
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one build at a time; the others then find it in the cache
[ -e "$CACHE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C joe-guest -f "$CACHE/id_ed25519"
VERSIONS=$(pick_versions)
KERNEL=$(echo "$VERSIONS" | sed -n 's/^\(linux-image[^:]*\):.*/\1/p')
KEY=$({ echo "$VERSIONS"; cat "$0" "$(dirname "$0")/rc" "$CACHE/id_ed25519.pub"; } |
  sha256sum | cut -c1-16)
if [ ! -e "$CACHE/$KEY/versions" ]; then
  say "building the guest ($KERNEL) into $CACHE/$KEY"
  W=$(mktemp -d "$CACHE/tmp.XXXXXX")
  trap 'rm -rf "$W"' EXIT
  build
  rm -rf "${CACHE:?}/$KEY"
  mv "$W/out" "$CACHE/$KEY"
fi
ln -sfn "$KEY" "$CACHE/current.tmp"
mv -T "$CACHE/current.tmp" "$CACHE/current"
for old in "$CACHE"/????????????????; do # earlier builds; a guest running one keeps its files open
  [ "$old" = "$CACHE/$KEY" ] || rm -rf "$old"
done
report
