#!/usr/bin/env bash
# Cross tests: the unit tests (go test ./..., no integration tag, no -race)
# built for the boards' CPUs and run under qemu-user:
#
#   arm64  GOARCH=arm64          aarch64-linux-gnu-gcc     qemu-aarch64-static
#   armv7  GOARCH=arm GOARM=7    arm-linux-gnueabihf-gcc   qemu-arm-static (cortex-a15)
#   armv6  GOARCH=arm GOARM=6    arm-linux-gnueabi-gcc     qemu-arm-static, QEMU_CPU=arm1176 (Pi Zero/1)
#
# Test binaries are linked like the release builds (scripts/build.sh): cgo,
# static, tags netgo,osusergo, so what runs here is what ships. armv6 runs on
# an ARM1176 CPU model, so an ARMv7 instruction anywhere (Go or C) is a SIGILL.
# Each package is compiled once per arch and run once (-count=1), with a
# per-package -timeout (CROSS_TEST_TIMEOUT, default 10m: the daemon package takes 1.5 min alone under qemu-user, over 5 on a loaded machine) so a hang fails fast.
#
# Usage: scripts/cross-test.sh [arm64|armv7|armv6 ...]   (default: all three)
# Env:   DOORBELL_SKIP_APT=1 never runs apt-get; CROSS_PKGS (./...): the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

arches=("$@"); ((${#arches[@]})) || arches=(arm64 armv7 armv6)

scripts/build.sh deps
if ! command -v qemu-aarch64-static >/dev/null || ! command -v qemu-arm-static >/dev/null; then
  [[ ${DOORBELL_SKIP_APT:-0} != 1 ]] || { echo "cross-test.sh: qemu-user-static missing" >&2; exit 1; }
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  echo "cross-test.sh: installing qemu-user-static"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi

# Tests that re-execute their own binary (os.Args[0], e.g. a crash helper)
# need the kernel to run ARM ELF files through qemu: register binfmt_misc
# handlers (F: the interpreter is opened now, so it works in any mount
# namespace) unless they are there, and remove only what was added, at exit.
log=$(mktemp -d)
added=()
cleanup() {
  local h
  for h in "${added[@]}"; do echo -1 > "/proc/sys/fs/binfmt_misc/$h" 2>/dev/null || true; done
  [[ ${mounted_binfmt:-0} == 1 ]] && umount /proc/sys/fs/binfmt_misc 2>/dev/null || true
  rm -rf "$log"
}
trap cleanup EXIT
if [[ $(id -u) == 0 ]]; then
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]] &&
     mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; then mounted_binfmt=1; fi
  for h in qemu-arm qemu-aarch64; do
    [[ -e /proc/sys/fs/binfmt_misc/register && ! -e /proc/sys/fs/binfmt_misc/$h && -f /usr/lib/binfmt.d/$h.conf ]] || continue
    sed "s#:/usr/libexec/qemu-binfmt/[a-z0-9]*-binfmt-P:OPF\$#:$(command -v "$h-static"):F#" "/usr/lib/binfmt.d/$h.conf" \
      > /proc/sys/fs/binfmt_misc/register && added+=("$h")
  done
fi
((${#added[@]} == 0)) || echo "cross-test.sh: registered binfmt_misc ${added[*]} for this run"
[[ -e /proc/sys/fs/binfmt_misc/qemu-arm ]] || echo "cross-test.sh: WARNING: no binfmt_misc for ARM: tests that exec their own binary fail"
rc=0 summary=()
for a in "${arches[@]}"; do
  case $a in
    arm64) envs=(GOARCH=arm64 CC=aarch64-linux-gnu-gcc); runner=qemu-aarch64-static ;;
    armv7) envs=(GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc QEMU_CPU=cortex-a15); runner=qemu-arm-static ;;
    armv6) envs=(GOARCH=arm GOARM=6 CC=arm-linux-gnueabi-gcc QEMU_CPU=arm1176); runner=qemu-arm-static ;;
    *) echo "cross-test.sh: unknown arch $a (want arm64, armv7, armv6)" >&2; exit 2 ;;
  esac
  echo "== $a: go test ${CROSS_PKGS:-./...} under $runner ${envs[*]}"
  s=$SECONDS
  if env CGO_ENABLED=1 GOOS=linux "${envs[@]}" go test -count=1 -timeout "${CROSS_TEST_TIMEOUT:-10m}" -tags netgo,osusergo \
       -ldflags '-linkmode external -extldflags -static' -exec "$runner" ${CROSS_PKGS:-./...} >"$log/$a" 2>&1; then
    r=ok
  else
    r=FAILED; rc=1
    # A timeout's panic names the tests that were running: show that first.
    grep -A8 '^panic: test timed out' "$log/$a" || true
    grep -E '^(--- FAIL|FAIL)' "$log/$a" || true
    grep -vE '^(ok|\?) ' "$log/$a" | tail -60
  fi
  npkg=$(grep -cE '^ok ' "$log/$a" || true)
  echo "   $a: $r, $npkg packages ok, $((SECONDS - s)) s; slowest: $(awk -F'\t' '/^ok /{sub("s$", "", $3); print $3 " " $2}' "$log/$a" |
    sort -rn | head -4 | awk '{sub(".*/doorbelld/", "", $2); printf "%s%s %.0f s", (NR > 1 ? ", " : ""), $2, $1}')"
  summary+=("$a $r")
done
echo "cross-test: ${summary[*]}"
exit $rc
