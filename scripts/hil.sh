#!/usr/bin/env bash
# Hardware-in-the-loop by emulation: runs the REAL doorbelld (static, cgo,
# go4vl + periph gpioioctl) against real kernel drivers in a qemu guest.
#
# Debian 12's own kernel boots under qemu-system-* (TCG) with a small
# initramfs: busybox-static, the vivid V4L2 driver (/dev/video0, YUYV
# 640x480@25) and gpio-sim, which Debian does not build, so it is built here
# out of tree from linux-source against the matching linux-headers. The guest
# (/init = scripts/hil/init.sh):
#   1. creates a gpio-sim bank with lines BUTTON, PIR, CHIME (+ SPARE3..7)
#   2. runs every test binary built with `go test -c -tags hil` (packages
#      with a //go:build hil test file), with -test.v and the flags each defines
#      among: -device /dev/video0  -gpiochip /dev/gpiochipN
#             -gpiosim /sys/devices/platform/gpio-sim.0/gpiochipN
#      (also exported as HIL_VIDEO, HIL_GPIOCHIP, HIL_GPIOSIM); only the tests
#      defined in the hil-tagged files run (-test.run)
#   3. starts doorbelld (scripts/hil/doorbell.yaml, embedded broker on
#      127.0.0.1:1883) and runs scripts/hil/hilcheck, which drives the lines
#      through gpio-sim and checks what doorbelld publishes over MQTT.
# It prints HIL-RESULT lines on the serial console and powers off; this
# script counts them and ends with "HIL: N passed, M failed ...".
#
# Usage: [HIL_ARCH=amd64|arm64|armhf] scripts/hil.sh [step...]
#   steps: deps kernel module build initramfs boot (default: all, in order);
#          motion is an extra step for scripts/hil/peer.sh (HIL_PEER=1)
# Env: HIL_ARCH (amd64), HIL_CACHE (${XDG_CACHE_HOME:-~/.cache}/doorbelld-hil:
#      kernel/busybox .debs, linux-source, the built module; reruns reuse it),
#      HIL_REFRESH=1 (fetch the kernel again), HIL_TIMEOUT (300 s),
#      HIL_SMP (2), HIL_MEM (1024 MiB), DOORBELL_SKIP_APT=1, VERSION,
#      HIL_LOAD_PRESSES (9: presses made while HIL_LOAD_HOGS (4) busy loops
#      run in the guest; each ring judged by the kernel's edge stamps).
# Only the apt packages in deps() are installed system-wide; kernel packages
# are unpacked with dpkg -x, foreign-arch apt indexes live in the cache.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/scripts/hil
ARCH=${HIL_ARCH:-amd64}
H=${HIL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/cache}/.cache}/doorbelld-hil}

case $ARCH in
  amd64) KFLAVOR=amd64; GOENV=(GOARCH=amd64); CC_T=gcc; CROSS=""
         QEMU=(qemu-system-x86_64 -accel tcg); CONSOLE=ttyS0 ;;
  arm64) KFLAVOR=arm64; GOENV=(GOARCH=arm64); CC_T=aarch64-linux-gnu-gcc; CROSS=aarch64-linux-gnu-
         QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a72); CONSOLE=ttyAMA0 ;;
  # 32-bit ARM (Debian armhf, the armmp kernel: ARMv7). The board (board.sh)
  # runs the armv6 release build on it, as a Pi Zero does.
  armhf) KFLAVOR=armmp; GOENV=(GOARCH=arm GOARM=7); CC_T=arm-linux-gnueabihf-gcc; CROSS=arm-linux-gnueabihf-
         QEMU=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15); CONSOLE=ttyAMA0 ;;
  *) echo "hil.sh: HIL_ARCH must be amd64, arm64 or armhf"; exit 2 ;;
esac
A=$H/$ARCH                      # per-arch cache
KROOT=$A/kimage                 # dpkg -x linux-image-*
KH=$A/kheaders                  # dpkg -x linux-headers-* + -common + linux-kbuild
BB=$A/busybox                   # dpkg -x busybox-static:$ARCH
OUT=$A/run                      # per-run outputs (binaries, initramfs, console log)
mkdir -p "$A/debs" "$OUT"

# apt for $ARCH: host apt for amd64, a private state dir for foreign arches.
aptx() {
  local cmd=$1; shift
  if [[ $ARCH == amd64 ]]; then "$cmd" "$@"; return; fi
  mkdir -p "$H/apt-$ARCH/lists/partial" "$H/apt-$ARCH/cache/archives/partial"
  "$cmd" -o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH" \
    -o Dir::State::Lists="$H/apt-$ARCH/lists" -o Dir::Cache="$H/apt-$ARCH/cache" \
    -o Dir::State::status=/dev/null "$@"
}

timed() { local s=$SECONDS; "$@"; echo "hil.sh[$ARCH]: step $1 $((SECONDS - s)) s"; }

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'; }

deps() {
  local want=(busybox-static cpio kmod xz-utils gcc make libc6-dev file) missing=() p
  case $ARCH in
    amd64) want+=(qemu-system-x86) ;;
    arm64) want+=(qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    armhf) want+=(qemu-system-arm gcc-arm-linux-gnueabihf libc6-dev-armhf-cross) ;;
  esac
  for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    [[ ${DOORBELL_SKIP_APT:-0} != 1 ]] || { echo "hil.sh: missing ${missing[*]}"; exit 1; }
    echo "hil.sh: installing ${missing[*]}"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v go >/dev/null || { echo "hil.sh: need Go >= 1.26"; exit 1; }
}

kernel() {
  if [[ -f $A/kernel.ok && ${HIL_REFRESH:-0} != 1 ]]; then
    echo "kernel $(cat "$A/KVER") (cached in $A; HIL_REFRESH=1 fetches again)"; return
  fi
  # A stale foreign-arch security index ("File has unexpected size") only means
  # the kernel resolves to the last point release in bookworm/main.
  if [[ $ARCH != amd64 ]]; then aptx apt-get update -qq || echo "WARN: apt update for $ARCH had errors"
  elif ! apt-cache policy linux-image-amd64 | grep -q 'Candidate: [0-9]'; then apt-get update -qq; fi
  local kpkg kver kabi kmaj kvers
  kpkg=$(aptx apt-cache depends "linux-image-$KFLAVOR" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  kver=${kpkg#linux-image-}; kabi=${kver%-"$KFLAVOR"}; kmaj=$(echo "$kver" | cut -d. -f1-2)
  kvers=$(aptx apt-cache show "$kpkg" | awk '/^Version:/{print $2; exit}')
  echo "kernel package $kpkg $kvers"
  rm -f "$A"/debs/*.deb
  (cd "$A/debs" && aptx apt-get download -qq "$kpkg" "linux-headers-$kver" busybox-static 2>&1 | grep -v unsandboxed || true)
  # arch:all and build-host parts come from the host's (amd64) indexes.
  (cd "$A/debs" && apt-get download -qq "linux-headers-$kabi-common=$kvers" "linux-kbuild-$kmaj" 2>&1 | grep -v unsandboxed || true)
  rm -rf "$KROOT" "$KH" "$BB"; mkdir -p "$KROOT" "$KH" "$BB"
  dpkg -x "$A"/debs/"$kpkg"_*.deb "$KROOT"
  for p in "linux-headers-$kver" "linux-headers-$kabi-common" "linux-kbuild-$kmaj"; do dpkg -x "$A"/debs/"$p"_*.deb "$KH"; done
  dpkg -x "$A"/debs/busybox-static_*.deb "$BB"
  # The per-flavour headers Makefile includes the common one by absolute path.
  sed -i "s#^include /usr/src/#include $KH/usr/src/#" "$KH/usr/src/linux-headers-$kver/Makefile"
  # gpio-sim.c, gpiolib.h and irq_sim.c from linux-source (arch-independent, shared).
  if [[ ! -f $H/ksrc/linux-source-$kmaj/drivers/gpio/gpio-sim.c ]]; then
    mkdir -p "$H/debs"
    (cd "$H/debs" && { ls linux-source-"$kmaj"_*.deb >/dev/null 2>&1 || apt-get download -qq "linux-source-$kmaj" 2>&1 | grep -v unsandboxed || true; })
    rm -rf "$H/ksrc"; mkdir -p "$H/ksrc"
    dpkg-deb --fsys-tarfile "$H"/debs/linux-source-"$kmaj"_*.deb |
      tar -xO "./usr/src/linux-source-$kmaj.tar.xz" |
      tar -xJ -C "$H/ksrc" "linux-source-$kmaj/drivers/gpio/gpio-sim.c" \
        "linux-source-$kmaj/drivers/gpio/gpiolib.h" "linux-source-$kmaj/kernel/irq/irq_sim.c"
  fi
  depmod -b "$KROOT" "$kver"
  grep -E '^CONFIG_(VIDEO_VIVID|CONFIGFS_FS|GPIO_CDEV)=|^# CONFIG_(GPIO_SIM|IRQ_SIM) ' "$KROOT/boot/config-$kver" || true
  echo "$kver" > "$A/KVER"
  rm -f "$A/mod/gpio-sim.ko"
  touch "$A/kernel.ok"
}

KVER() { cat "$A/KVER"; }

module() {
  local kver S M
  kver=$(KVER); S=$(ls -d "$H"/ksrc/linux-source-*); M=$A/mod
  if [[ -f $M/gpio-sim.ko ]] && modinfo -F vermagic "$M/gpio-sim.ko" | grep -q "^$kver "; then
    echo "gpio-sim.ko cached: $(modinfo -F vermagic "$M/gpio-sim.ko")"; return
  fi
  rm -rf "$M"; mkdir -p "$M"
  cp "$S/drivers/gpio/gpio-sim.c" "$M/gpio-sim-core.c"
  cp "$S/drivers/gpio/gpiolib.h" "$S/kernel/irq/irq_sim.c" "$M/"
  # CONFIG_IRQ_SIM is unset too, so a private copy of irq_sim.c is linked in.
  # irq_to_desc() is not exported to modules; generic_handle_irq() is, and it
  # runs the handle_simple_irq flow handler that irq_sim_domain_map installs.
  sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$M/irq_sim.c"
  grep -q 'generic_handle_irq(irqnum)' "$M/irq_sim.c"
  # The OF match table is only for autoloading (and trips 32-bit modpost).
  sed -i 's/^MODULE_DEVICE_TABLE(of, gpio_sim_of_match);//' "$M/gpio-sim-core.c"
  printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-core.o irq_sim.o\n' > "$M/Kbuild"
  make -s -C "$KH/usr/src/linux-headers-$kver" M="$M" ${CROSS:+CROSS_COMPILE=$CROSS} modules 2>&1 | grep -v 'Skipping BTF' || true
  modinfo -F vermagic "$M/gpio-sim.ko"
}

# gostatic OUT PKG [go args...]: a static cgo binary for the guest.
gostatic() {
  local out=$1 pkg=$2; shift 2
  (cd "$REPO" && env CGO_ENABLED=1 GOOS=linux "${GOENV[@]}" CC=$CC_T go "${@:-build}" -trimpath \
    -tags "netgo,osusergo${HILTAGS:+,$HILTAGS}" -o "$out" \
    -ldflags "-s -w -X main.version=$VERSION -linkmode external -extldflags -static" "$pkg")
}

build() {
  VERSION=${VERSION:-$(cd "$REPO" && git describe --tags --always --dirty 2>/dev/null || echo dev)}
  echo "$VERSION" > "$OUT/VERSION"
  rm -rf "${OUT:?}/bin"; mkdir -p "$OUT/bin/tests"
  gostatic "$OUT/bin/doorbelld" ./firmware/cmd/doorbelld
  (cd "$REPO" && env CGO_ENABLED=0 GOOS=linux "${GOENV[@]}" go build -trimpath -ldflags "-s -w" \
     -o "$OUT/bin/hilcheck" ./scripts/hil/hilcheck)
  # Every package with a hil-tagged test file gets a static test binary.
  # The guest runs exactly the tests defined in the hil-tagged files
  # (-test.run, written to NAME.run): a package's plain unit tests run in
  # scripts/test.sh, not on an emulated CPU.
  local f d n files tf
  files=$(cd "$REPO" && grep -rlE --include='*_test.go' '^//go:build .*\bhil\b' . | grep -v '^./scripts/hil/' | sort)
  for d in $(echo "$files" | xargs -r -n1 dirname | sort -u); do
    n=$(echo "${d#./}" | tr / _)
    HILTAGS=hil gostatic "$OUT/bin/tests/$n.test" "$d" test -c
    mapfile -t tf < <(echo "$files" | grep "^$d/[^/]*$")
    (cd "$REPO" && grep -hoE '^func (Test[A-Za-z0-9_]+)\(t \*testing\.T\)' "${tf[@]}" |
      sed -E 's/^func (Test[A-Za-z0-9_]+).*/\1/' | paste -sd'|' | sed 's/.*/^(&)$/') > "$OUT/bin/tests/$n.run"
    echo "  $n: $(cat "$OUT/bin/tests/$n.run")"
  done
  for f in "$OUT"/bin/doorbelld "$OUT"/bin/hilcheck "$OUT"/bin/tests/*.test; do
    [[ -e $f ]] && printf '  %-24s %s\n' "${f##*/}" "$(file -b "$f" | cut -d, -f1-2,4)"
  done
}

# motion (HIL_PEER=1 only, amd64 guest): Debian's motion and every shared
# library it loads (ldd, resolved against this amd64 bookworm host plus the
# packages apt would add), cached in $A/motion.
motion() {
  [[ $ARCH == amd64 ]] || { echo "hil.sh: the peer comparison runs on the amd64 guest only"; exit 2; }
  local M=$A/motion pkgs lib
  if [[ -x $M/motion && -e $M/lib/ld.so ]]; then echo "motion cached: $(du -sh "$M" | cut -f1)"; return; fi
  rm -rf "$M"; mkdir -p "$M/debs" "$M/root" "$M/lib"
  pkgs=$(apt-get -s install --no-install-recommends motion | awk '/^Inst /{print $2}')
  (cd "$M/debs" && apt-get download -qq $pkgs 2>&1 | grep -v unsandboxed || true)
  for f in "$M"/debs/*.deb; do dpkg -x "$f" "$M/root"; done
  cp "$M/root/usr/bin/motion" "$M/motion"
  LD_LIBRARY_PATH=$M/root/usr/lib/x86_64-linux-gnu:$M/root/lib/x86_64-linux-gnu ldd "$M/motion" > "$M/ldd.txt"
  ! grep 'not found' "$M/ldd.txt" || { echo "hil.sh: motion has unresolved libraries"; exit 1; }
  for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3}' "$M/ldd.txt"); do cp -L "$lib" "$M/lib/"; done
  cp -L /lib64/ld-linux-x86-64.so.2 "$M/lib/ld.so"
  echo "motion $(dpkg-deb -f "$M"/debs/motion_*.deb Version): $(ls "$M/lib" | wc -l) libraries, $(du -sh "$M/lib" | cut -f1)"
}

initramfs() {
  local kver R MD m f
  kver=$(KVER); R=$OUT/rootfs; MD=$R/lib/modules/$kver
  rm -rf "$R"; mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc/doorbell,tests} "$MD"
  cp "$BB/bin/busybox" "$R/bin/busybox"
  cp "$OUT/bin/doorbelld" "$OUT/bin/hilcheck" "$R/bin/"
  cp "$OUT"/bin/tests/* "$R/tests/" 2>/dev/null || true
  cp "$HERE/init.sh" "$R/init"; chmod +x "$R/init"
  cp "$HERE/../board/board-gpio.sh" "$R/board-gpio.sh"; chmod +x "$R/board-gpio.sh"
  cp "$HERE/doorbell.yaml" "$R/etc/doorbell/config.yaml"
  if [[ ${HIL_PEER:-0} == 1 ]]; then
    cp "$HERE/peer-init.sh" "$R/init"
    mkdir -p "$R/motion" && cp -a "$A/motion/lib" "$R/motion/lib"
    cp "$A/motion/motion" "$R/motion/motion"
    cp "$HERE/motion.conf" "$R/etc/motion.conf"
    echo "${PEER_SECONDS:-40}" > "$R/etc/peer-seconds"
    echo "${PEER_SIZES:-640x480 1280x720}" > "$R/etc/peer-sizes"
    sed -i 's/^  level: debug$/  level: info/' "$R/etc/doorbell/config.yaml"
  fi
  cp "$OUT/VERSION" "$R/etc/doorbell/VERSION"
  echo "${HIL_LOAD_PRESSES:-9}" > "$R/etc/load-presses"
  echo "${HIL_LOAD_HOGS:-4}" > "$R/etc/load-hogs"
  mknod -m 600 "$R/dev/console" c 5 1
  # Module dependency closure (modinfo -F depends), in load order.
  declare -A seen; local order=()
  resolve() {
    local name=$1 deps d
    [[ -n ${seen[$name]:-} ]] && return; seen[$name]=1
    deps=$(modinfo -b "$KROOT" -k "$kver" -F depends "$name")
    for d in ${deps//,/ }; do resolve "$d"; done
    order+=("$name")
  }
  resolve vivid; resolve configfs
  resolve snd-aloop   # ALSA loopback card "Loopback": hal/audio's HIL test
  : > "$R/modules.order"
  for m in "${order[@]}"; do
    f=$(modinfo -b "$KROOT" -k "$kver" -n "$m")
    case $f in *.xz) xz -dc "$f" > "$MD/$m.ko" ;; *) cp "$f" "$MD/$m.ko" ;; esac
    if [[ $m == vivid ]]; then
      echo "$m.ko n_devs=1 node_types=0x1" >> "$R/modules.order"   # one capture node: /dev/video0
    elif [[ $m == snd-aloop ]]; then
      # one substream per side: hw:Loopback,0 plays into hw:Loopback,1
      echo "$m.ko pcm_substreams=1 id=Loopback" >> "$R/modules.order"
    else
      echo "$m.ko" >> "$R/modules.order"
    fi
  done
  cp "$A/mod/gpio-sim.ko" "$MD/gpio-sim.ko"; echo "gpio-sim.ko" >> "$R/modules.order"
  (cd "$R" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > "$OUT/initramfs.cpio.gz")
  echo "initramfs: $(du -h "$OUT/initramfs.cpio.gz" | cut -f1), modules: $(cut -d' ' -f1 "$R/modules.order" | tr '\n' ' ')"
}

# clip_ffprobe judges the clip hilcheck dumped on the console (HIL-CLIPDATA)
# with the host's ffprobe: codec, frame count and duration, as a HIL-RESULT line.
clip_ffprobe() {
  local txt=$1 mp4=$OUT/clip.mp4 want_frames want_ms want_sum sum got
  grep -aq '^HIL-CLIP: ' "$txt" || return 0
  read -r want_frames want_ms want_sum < <(sed -n 's/^HIL-CLIP: [^ ]* frames=\([0-9]*\) duration_ms=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2 \3/p' "$txt" | head -1)
  sed -n 's/^HIL-CLIPDATA: //p' "$txt" | base64 -d > "$mp4" 2>/dev/null || true
  sum=$(sha256sum "$mp4" | cut -d' ' -f1)
  if [[ $sum != "${want_sum:-}" ]]; then
    # Not the clip's fault: a line of its dump was broken on the way.
    echo "HIL-RESULT: clip-ffprobe FAIL the clip's dump on the console does not decode to the clip: sha256 $sum of $(stat -c %s "$mp4") bytes, hilcheck read ${want_sum:-none} from the file" | tee -a "$txt"
    return 0
  fi
  if ! command -v ffprobe >/dev/null; then
    echo "HIL-RESULT: clip-ffprobe FAIL ffprobe not installed on the host" | tee -a "$txt"; return 0
  fi
  got=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,width,height,nb_read_frames,duration \
        -of default=noprint_wrappers=1 "$mp4" 2>&1 | tr '\n' ' ')
  local codec frames dur ok=FAIL
  codec=$(sed -n 's/.*codec_name=\([^ ]*\).*/\1/p' <<<"$got"); frames=$(sed -n 's/.*nb_read_frames=\([0-9]*\).*/\1/p' <<<"$got")
  dur=$(sed -n 's/.*duration=\([0-9.]*\).*/\1/p' <<<"$got")
  # duration within one frame interval (40ms at 25fps) of what doorbelld says
  if [[ $codec == mjpeg && $frames == "$want_frames" && -n $dur ]] &&
     awk -v d="$dur" -v w="$want_ms" 'BEGIN { e = d*1000 - w; if (e < 0) e = -e; exit !(e <= 40) }'; then ok=PASS; fi
  echo "HIL-RESULT: clip-ffprobe $ok ffprobe: $got(want mjpeg, $want_frames frames, ${want_ms}ms ±40ms; $(stat -c %s "$mp4") bytes)" | tee -a "$txt"
  clip_tone "$txt" "$mp4"
}

# clip_tone finds the tone hilcheck played into the microphone in the clip's
# sound track (decoded by the host's ffmpeg): its onset must lie where the
# clip's start and the time it was played put it (HIL-CLIPTONE: the play
# call bracketed), within 40 ms.
clip_tone() {
  local txt=$1 mp4=$2 from to onset ok=FAIL
  read -r from to < <(sed -n 's/^HIL-CLIPTONE: from_ms=\([-0-9.]*\) to_ms=\([-0-9.]*\).*/\1 \2/p' "$txt" | head -1)
  [[ -n ${from:-} ]] || return 0
  # first sample of at least 20 % of full scale, in ms from the track's start
  onset=$(ffmpeg -v error -nostdin -i "$mp4" -map 0:a:0 -f s16le -ac 1 -ar 16000 - 2>/dev/null |
    od -An -v -td2 -w2 | awk '{ if ($1 > 6553 || $1 < -6553) { printf "%.1f", (NR-1)/16; exit } }')
  if [[ -n $onset ]] && awk -v o="$onset" -v f="$from" -v t="$to" 'BEGIN { exit !(o >= f-40 && o <= t+40) }'; then ok=PASS; fi
  echo "HIL-RESULT: clip-sound-sync $ok tone onset at ${onset:-none} ms in the clip's sound; played between $from and $to ms after the clip's start (want within 40 ms of that)" | tee -a "$txt"
}

boot() {
  local kver log s rc=0 pass fail skip
  kver=$(KVER); log=$OUT/console.log
  # /dev/kvm may exist in sandboxes, but x86 guests hang under it there: TCG only.
  s=$SECONDS
  timeout "${HIL_TIMEOUT:-300}" "${QEMU[@]}" -smp "${HIL_SMP:-2}" -m "${HIL_MEM:-1024}" \
    -nographic -no-reboot -nic none \
    -kernel "$KROOT/boot/vmlinuz-$kver" -initrd "$OUT/initramfs.cpio.gz" \
    -append "console=$CONSOLE quiet panic=-1 ${HIL_APPEND:-}" </dev/null >"$log" 2>&1 || rc=$?
  tr -d '\r' < "$log" > "$log.txt"
  if [[ ${HIL_PEER:-0} == 1 ]]; then peer_report "$log.txt"; return; fi
  grep -aE '^(HIL|hilcheck|=== RUN|--- |    |ok|FAIL|PASS)' "$log.txt" | grep -av '^HIL-CLIPDATA:' || true
  clip_ffprobe "$log.txt"
  pass=$(grep -ac '^HIL-RESULT: .* PASS' "$log.txt" || true)
  fail=$(grep -ac '^HIL-RESULT: .* FAIL' "$log.txt" || true)
  skip=$(grep -ac '^HIL-RESULT: .* SKIP' "$log.txt" || true)
  if ! grep -aq '^HIL-EXIT:' "$log.txt"; then
    fail=$((fail + 1)); echo "HIL-RESULT: guest FAIL no HIL-EXIT line (qemu rc=$rc: timeout or crash), see $log.txt"
    tail -40 "$log.txt"
  fi
  ((pass + fail > 0)) || fail=1
  echo "hil.sh[$ARCH]: boot to result $((SECONDS - s)) s, console log $log.txt"
  SUMMARY="HIL: $pass passed, $fail failed, $skip skipped ($ARCH, kernel $kver, doorbelld $(cat "$OUT/VERSION"))"
  ((fail == 0))
}

# peer_report LOG: CPU seconds per 1,000 frames from the PEER lines.
peer_report() {
  grep -aE '^(HIL|PEER|PEER-THREAD|PEER-WAIT|motion|doorbelld|doorbelld-video|doorbelld-video-1p):' "$1" || true
  grep -aq '^PEER: motion ' "$1" && grep -aq '^PEER: doorbelld ' "$1" || { echo "PEER: incomplete, see $1"; return 1; }
  local n
  for n in doorbelld doorbelld-video doorbelld-video-1p; do
    if sed -n "s/^PEER-PPROF: $n //p" "$1" | base64 -d > "$OUT/$n.pprof" 2>/dev/null && [[ -s $OUT/$n.pprof ]]; then
      echo "PEER: $n CPU profile: go tool pprof -top $OUT/bin/doorbelld $OUT/$n.pprof"
    fi
  done
  awk '/^PEER: / {
      split($3, t, "="); split($4, w, "="); split($5, f, "=")
      split($10, r, "=")
      nominal = w[2] * r[2]; frames = (f[2] > 0) ? f[2] : nominal
      split($6, k, "=")
      split($8, z, "="); split($9, x, "=")
      printf "PEER-RESULT: %-18s %-9s %6.2f CPU s per 1,000 frames, %.1f context switches per frame (%.2f CPU s, %.0f%% of it in the kernel, over %.1f s wall, %d frames%s)\n",
        $2, z[2], t[2] / 100 / frames * 1000, x[2] / frames, t[2] / 100, (t[2] > 0) ? 100 * k[2] / t[2] : 0, w[2], frames, (f[2] > 0) ? " counted" : " at the camera'"'"'s " r[2] " fps"
    }' "$1"
}

steps=("$@"); ((${#steps[@]})) || steps=(deps kernel module build initramfs boot)
total=$SECONDS rc=0 SUMMARY=""
for st in "${steps[@]}"; do
  case $st in
    deps|kernel|module|build|motion|initramfs) timed "$st" ;;
    boot) boot || rc=1 ;;
    *) echo "hil.sh: unknown step $st"; exit 2 ;;
  esac
done
echo "hil.sh[$ARCH]: total $((SECONDS - total)) s"
[[ -z $SUMMARY ]] || echo "$SUMMARY"
exit $rc
