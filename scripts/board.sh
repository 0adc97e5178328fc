#!/usr/bin/env bash
# A whole board in the emulator: Debian bookworm on an ext4 disk image,
# booted by qemu with systemd as PID 1, doorbelld installed from the release
# tarball by scripts/install.sh and run by systemd with the hardened unit,
# against the kernel's vivid (camera), gpio-sim (button, PIR, relays) and
# snd-aloop (microphone) drivers. Checked from the host by
# scripts/board/boardcheck over MQTT (the host's Mosquitto, which the guest
# reaches as 10.0.2.2 through qemu's user-mode network: the board talks to a
# broker elsewhere in the house, as a real one does) and over a root shell
# on a virtio console (the harness's hands: press the button, read the
# disk's counters; a real board has none).
#
#   host                                   guest (qemu-system-*, TCG)
#   board.img (ext4, cache=none) ───────▶ /dev/vda: systemd, journald, udev
#   Mosquitto 127.0.0.1:P ◀── slirp ───── doorbelld.service (tcp://10.0.2.2:P)
#   boardcheck ─── unix socket ─────────▶ /dev/hvc0: board-ctl.service (sh)
#
# The image: debootstrap (minbase + systemd, udev, kmod, iproute2, procps;
# second stage under qemu-user for arm64 and armhf), the kernel's modules for the
# disk, network, vivid, snd-aloop and the out-of-tree gpio-sim (scripts/
# hil.sh builds it), modules-load.d and board-gpio.service for the wiring.
# The kernel boots with a small busybox initramfs that loads virtio and ext4
# and switches to systemd on /dev/vda (Debian's kernel has them as modules).
# The rootfs tarball and kernel are cached (like hil.sh's); the image is
# made afresh for every run.
#
# The check (boardcheck, which powers qemu on and off itself): install,
# config, start, a ring, the security score, SD-card writes (idle, per ring,
# per motion event), the watchdog, a crash with the broker down, a signed
# update pushed and one that cannot start rolled back, stop; then the
# power-cut campaign: BOARD_CUTS cuts (qemu killed at a random moment, or,
# for half the ota cuts, the guest reset by plugpull, a test-image tool, at
# one exact install step; qemu's -no-reboot ends qemu then) in each
# scenario (outbox, clips, ota, config), each followed by e2fsck of the
# image (after its journal replay), a boot and the scenario's checks.
#
# Usage: [BOARD_ARCH=amd64|arm64|armhf] [BOARD_CUTS=N] scripts/board.sh [step...]
#   steps: kernel rootfs image check (default: all, in order)
# Env: BOARD_ARCH (amd64), BOARD_CUTS (2 per scenario; 50 for the figures in
#      README), BOARD_SCENARIOS (outbox,clips,ota,config), BOARD_BENCH (1: run
#      the JPEG encode benchmark in the guest), BOARD_SEED (the cut moments' random seed, printed by every
#      run), BOARD_WEAR_IDLE (60s: how long idle writes are measured),
#      HIL_CACHE (shared with hil.sh), BOARD_OUT (the run's directory:
#      image, logs; default $HIL_CACHE/board-<arch>/run), BOARD_TIMEOUT (900 s + 480 s per cut),
#      BOARD_MEM (1024 MiB; armhf 512), BOARD_SMP (2; armhf 1), MIRROR (the Debian mirror).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/scripts/board
ARCH=${BOARD_ARCH:-amd64}
H=${HIL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/cache}/.cache}/doorbelld-hil}
A=$H/$ARCH
B=$H/board-$ARCH
OUT=${BOARD_OUT:-$B/run}
mkdir -p "$B" "$OUT"
case $ARCH in
  amd64) QEMU=(qemu-system-x86_64 -accel tcg); CONSOLE=ttyS0; DIST=amd64; GOARCH=amd64 ;;
  arm64) QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a72); CONSOLE=ttyAMA0; DIST=arm64; GOARCH=arm64 ;;
  # Pi Zero-class: 32-bit Debian (armhf) on one ARMv7 core (the armmp kernel
  # needs v7; a Pi Zero's ARM1176 is v6) with 512 MiB, running the armv6
  # release build, the one a Pi Zero gets. highmem=off: armmp has no LPAE,
  # so qemu's PCIe space above 4 GiB (where the disk would sit) is out of reach.
  armhf) QEMU=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15); CONSOLE=ttyAMA0; DIST=armv6; GOARCH=arm; GOARM=6
         : "${BOARD_SMP:=1}" "${BOARD_MEM:=512}" ;;
  *) echo "board.sh: BOARD_ARCH must be amd64, arm64 or armhf"; exit 2 ;;
esac
[[ $(id -u) == 0 ]] || { echo "board.sh: run as root (debootstrap, chroot, image ownership)"; exit 1; }
timed() { local s=$SECONDS; "$@"; echo "board.sh[$ARCH]: step $1 $((SECONDS - s)) s"; }
KVER() { cat "$A/KVER"; }

# The kernel, its modules and gpio-sim.ko: hil.sh's cache.
kernel() {
  HIL_ARCH=$ARCH "$REPO/scripts/hil.sh" deps kernel module
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  command -v mkfs.ext4 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends e2fsprogs >/dev/null
}

PKGS=systemd,systemd-sysv,udev,kmod,iproute2,procps,netbase,e2fsprogs
rootfs() {
  local tarball=$B/bookworm-$ARCH-board.tgz mirror
  mirror=${MIRROR:-$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  if [[ -f $tarball ]]; then echo "rootfs: cached $tarball"; return; fi
  local w; w=$(mktemp -d)
  echo "rootfs: debootstrap --arch=$ARCH bookworm ($PKGS) from $mirror"
  debootstrap --arch="$ARCH" --variant=minbase --include="$PKGS" --make-tarball="$tarball.tmp" bookworm "$w/mk" "$mirror" \
    >"$B/debootstrap.log" 2>&1 || { tail -20 "$B/debootstrap.log"; rm -rf "$w"; exit 1; }
  rm -rf "$w"
  mv "$tarball.tmp" "$tarball"
}

# resolve NAME: the module and its dependencies, in load order.
declare -A seen=()
order=()
resolve() {
  local name=$1 deps d kver; kver=$(KVER)
  [[ -n ${seen[$name]:-} ]] && return; seen[$name]=1
  deps=$(modinfo -b "$A/kimage" -k "$kver" -F depends "$name" 2>/dev/null) || { echo "board.sh: no module $name"; exit 1; }
  for d in ${deps//,/ }; do resolve "$d"; done
  order+=("$name")
}

# binfmt: a foreign arch's second debootstrap stage runs its programs in
# the chroot through qemu-user (qemu-user-static's binfmt entry,
# registered here when nothing else, such as systemd-binfmt, did).
binfmt() {
  [[ $ARCH != "$(dpkg --print-architecture)" ]] || return 0
  local q; q=$(case $ARCH in arm64) echo aarch64 ;; armhf) echo arm ;; esac)
  [[ -f /usr/lib/binfmt.d/qemu-$q.conf ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [[ -e /proc/sys/fs/binfmt_misc/qemu-$q ]] || cat "/usr/lib/binfmt.d/qemu-$q.conf" > /proc/sys/fs/binfmt_misc/register
}

image() {
  local kver R I tarball=$B/bookworm-$ARCH-board.tgz mirror
  binfmt
  kver=$(KVER); R=$OUT/root; I=$OUT/initrd
  rm -rf "$R" "$I"; mkdir -p "$R" "$I"
  mirror=${MIRROR:-http://deb.debian.org/debian}
  debootstrap --arch="$ARCH" --variant=minbase --include="$PKGS" --unpack-tarball="$tarball" bookworm "$R" "$mirror" \
    >"$OUT/debootstrap.log" 2>&1 || { tail -20 "$OUT/debootstrap.log"; exit 1; }
  # The board's own configuration, as an OS image brings it.
  echo doorbell-board > "$R/etc/hostname"
  echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$R/etc/fstab"
  chroot "$R" passwd -d root >/dev/null
  mkdir -p "$R/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$R/etc/systemd/network/50-wired.network"
  chroot "$R" systemctl enable systemd-networkd.service >/dev/null 2>&1
  ln -sfn /dev/null "$R/etc/systemd/system/systemd-networkd-wait-online.service"
  # The hardware: modules, their options, the wiring.
  local m f
  for m in vivid configfs snd-aloop virtio_net virtio_console; do resolve "$m"; done
  mkdir -p "$R/lib/modules/$kver/kernel" "$R/lib/modules/$kver/extra"
  for m in "${order[@]}"; do
    f=$(modinfo -b "$A/kimage" -k "$kver" -n "$m")
    [[ $f == builtin ]] && continue
    mkdir -p "$R/$(dirname "${f#"$A/kimage"}")"
    cp "$f" "$R/${f#"$A/kimage"}"
  done
  cp "$A/mod/gpio-sim.ko" "$R/lib/modules/$kver/extra/"
  cp "$A/kimage/lib/modules/$kver/modules.builtin"* "$A/kimage/lib/modules/$kver/modules.order" "$R/lib/modules/$kver/"
  depmod -b "$R" "$kver"
  install -m 0644 "$HERE/modules-load.conf" "$R/etc/modules-load.d/doorbell-board.conf"
  install -m 0644 "$HERE/modprobe.conf" "$R/etc/modprobe.d/doorbell-board.conf"
  install -m 0755 "$HERE/board-gpio.sh" "$R/usr/local/sbin/board-gpio.sh"
  install -m 0644 "$HERE/board-gpio.service" "$HERE/board-ctl.service" "$R/etc/systemd/system/"
  # The harness's ears: journald copies every log line to the serial
  # console, which the host reads as it comes (what the guest reported
  # before a power cut). A real board has no one listening there.
  mkdir -p "$R/etc/systemd/journald.conf.d"
  install -m 0644 "$HERE/journald-console.conf" "$R/etc/systemd/journald.conf.d/board-console.conf"
  chroot "$R" systemctl enable board-gpio.service board-ctl.service >/dev/null 2>&1
  # What the user copies to the board: the release tarball and their config.
  local rel; rel=$(ls "$REPO"/dist/doorbelld-*-linux-"$DIST".tar.gz 2>/dev/null | head -1 || true)
  [[ -n $rel ]] || { echo "board.sh: no dist/doorbelld-*-linux-$DIST.tar.gz: run scripts/build.sh $DIST"; exit 1; }
  cp "$rel" "$R/root/"
  cp "$HERE/doorbell.yaml" "$R/root/board.yaml"
  # The harness's hand on the plug (test image only): plugpull resets the
  # guest at one exact OTA install step (the power-cut campaign).
  (cd "$REPO" && CGO_ENABLED=0 GOARCH=$GOARCH GOARM=${GOARM:-} go build -o "$R/usr/local/sbin/plugpull" ./scripts/board/plugpull)
  # BOARD_BENCH=1: the clip recorder's benchmarks, run in the guest (the
  # JPEG encode cost per frame on this board's CPU).
  if [[ ${BOARD_BENCH:-0} == 1 ]]; then
    (cd "$REPO" && CGO_ENABLED=0 GOARCH=$GOARCH GOARM=${GOARM:-} go test -c -o "$R/root/clip.test" ./capture/clip)
  fi
  # The disk: ext4 made from the tree, as a flashed SD card.
  rm -f "$OUT/board.img"
  truncate -s "${BOARD_DISK:-2G}" "$OUT/board.img"
  # Inode tables and the journal initialised now, as on a card flashed
  # from an image: otherwise the kernel's ext4lazyinit zeroes them in the
  # background for the first hours, and the wear figures would count it.
  mkfs.ext4 -q -F -L doorbell-root -E lazy_itable_init=0,lazy_journal_init=0 -d "$R" "$OUT/board.img"
  # The boot initramfs: busybox, virtio and ext4.
  local bb; bb=$(ls "$A"/busybox/bin/busybox)
  mkdir -p "$I/bin" "$I/lib/modules/$kver"
  cp "$bb" "$I/bin/busybox"
  seen=(); order=()
  # crc32c: a soft dependency of ext4 (metadata checksums), not in its "depends".
  for m in virtio_pci virtio_mmio virtio_blk crc32c_generic ext4; do resolve "$m" 2>/dev/null || true; done
  : > "$I/modules.order"
  for m in "${order[@]}"; do
    f=$(modinfo -b "$A/kimage" -k "$kver" -n "$m" 2>/dev/null) || continue
    [[ $f == builtin || ! -f $f ]] && continue
    case $f in *.xz) xz -dc "$f" > "$I/lib/modules/$kver/$m.ko" ;; *) cp "$f" "$I/lib/modules/$kver/$m.ko" ;; esac
    echo "$m.ko" >> "$I/modules.order"
  done
  install -m 0755 "$HERE/init.sh" "$I/init"
  (cd "$I" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > "$OUT/initrd.gz")
  rm -rf "$R" "$I"
  echo "image: $OUT/board.img ($(du -h --apparent-size "$OUT/board.img" | cut -f1), $(du -h "$OUT/board.img" | cut -f1) used), initrd $(du -h "$OUT/initrd.gz" | cut -f1), release $(basename "$rel")"
}

free_port() {
  local p
  while :; do p=$((20000 + RANDOM % 20000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done
}

check() {
  local kver port rc=0 cuts=${BOARD_CUTS:-2}
  kver=$(KVER); port=$(free_port)
  local MOSQ; MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  (cd "$REPO" && CGO_ENABLED=0 go build -o "$OUT/boardcheck" ./scripts/board/boardcheck &&
    CGO_ENABLED=0 go build -o "$OUT/doorbellctl" ./firmware/cmd/doorbellctl)
  rm -rf "$OUT/ctl.sock" "$OUT/mosquitto.db" "$OUT/ota" "$OUT"/console-*.log
  # The board: its disk image with cache=none (what the guest has not
  # written is lost when qemu dies; what it wrote is in the image), the
  # serial console on qemu's stdout (boardcheck reads it: the kernel's and
  # journald's console), the control shell on a virtio console.
  local qemu=("${QEMU[@]}" -smp "${BOARD_SMP:-2}" -m "${BOARD_MEM:-1024}" -nographic -no-reboot
    -kernel "$A/kimage/boot/vmlinuz-$kver" -initrd "$OUT/initrd.gz"
    -append "console=$CONSOLE root=/dev/vda quiet systemd.show_status=0 panic=-1"
    -drive "file=$OUT/board.img,if=virtio,format=raw,cache=none"
    -nic "user,model=virtio-net-pci"
    -device virtio-serial -chardev "socket,id=ctl,path=$OUT/ctl.sock,server=on,wait=off" -device virtconsole,chardev=ctl)
  # boardcheck powers the board on and off (power cuts: BOARD_CUTS per
  # scenario), and runs the host's Mosquitto itself (it stops it to play a
  # broker outage).
  "$OUT/boardcheck" -mosquitto "$MOSQ" -dir "$OUT" -port "$port" -ctl "$OUT/ctl.sock" -image "$OUT/board.img" \
    -doorbellctl "$OUT/doorbellctl" -repo "$REPO" -goarch "$DIST" -cuts "$cuts" -wear-idle "${BOARD_WEAR_IDLE:-60s}" ${BOARD_SEED:+-seed "$BOARD_SEED"} ${BOARD_SCENARIOS:+-scenarios "$BOARD_SCENARIOS"} \
    -timeout "${BOARD_TIMEOUT:-$((900 + cuts * 4 * 120))}s" -- "${qemu[@]}" 2>&1 | tee "$OUT/boardcheck.log" || rc=$?
  local pass fail last
  pass=$(grep -c '^BOARD-RESULT: [^ ]* PASS' "$OUT/boardcheck.log" || true)
  fail=$(grep -c '^BOARD-RESULT: [^ ]* FAIL' "$OUT/boardcheck.log" || true)
  echo "BOARD: $pass passed, $fail failed ($ARCH, kernel $kver, $cuts power cuts per scenario)"
  grep '^POWERCUT-TABLE: ' "$OUT/boardcheck.log" | sed 's/^POWERCUT-TABLE: /  /' || true
  if ((fail > 0 || pass == 0 || rc != 0)); then
    last=$(ls "$OUT"/console-*.log 2>/dev/null | tail -1)
    [[ -z $last ]] || { echo "BOARD: console of the last boot (last 40 lines):"; tr -d '\r' < "$last" | tail -40 | sed 's/^/  /'; }
    return 1
  fi
}

steps=("$@"); ((${#steps[@]})) || steps=(kernel rootfs image check)
for s in "${steps[@]}"; do timed "$s"; done
