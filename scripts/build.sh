#!/usr/bin/env bash
# Release builds: cross-compiles every command under firmware/cmd/ and ota/cmd/
# (those that exist) with cgo for the boards doorbelld runs on, into dist/,
# with SHA256SUMS and the version stamped into main.version (--version).
#
#   arch    GOARCH/GOARM        C cross compiler (Debian)   boards
#   amd64   amd64               gcc                         PCs, CI
#   arm64   arm64               aarch64-linux-gnu-gcc       Pi 3/4/5, Zero 2 W (64-bit OS)
#   armv7   arm, GOARM=7        arm-linux-gnueabihf-gcc     Pi 2/3/4 (32-bit OS)
#   armv6   arm, GOARM=6        arm-linux-gnueabi-gcc       Pi Zero/Zero W/1
#
# Every binary is linked statically (-linkmode external -extldflags -static,
# tags netgo,osusergo), so one file runs on any glibc version of Raspberry Pi
# OS or Debian. For armv6 static linking is not a choice but a must: Debian's
# armhf gcc and glibc are ARMv7+Thumb-2 code (SIGILL on a Pi Zero/1), so the
# C side is built with the armel (ARMv5TE) toolchain, whose libc is linked in.
#
# Output: dist/<cmd>-linux-<arch>, dist/doorbelld-<version>-linux-<arch>.tar.gz
# (the release: binaries, install.sh, the unit, the example config, README) and
# dist/SHA256SUMS.
# Usage:  scripts/build.sh [arch...]        (default: amd64 arm64 armv7 armv6)
#         scripts/build.sh deps             only install the cross compilers
# Env:    VERSION (default: git describe --tags --always --dirty)
#         BUILD_CMDS="firmware/cmd/doorbelld ..." builds only these
#         DOORBELL_SKIP_APT=1: never run apt-get (fail if a compiler is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=${DIST:-$ROOT/dist}

all_arches=(amd64 arm64 armv7 armv6)

# arch -> "GOARCH GOARM CC apt-packages..." (libc6-dev-*-cross is only a
# Recommends of the cross gcc, and it holds the static libc.a). On a host of
# the same Debian arch the native gcc (which also answers to the triplet name) does.
host_deb=$(dpkg --print-architecture 2>/dev/null || echo unknown)
target() {
  local goarch goarm triplet deb
  case $1 in
    amd64) goarch=amd64 goarm=- triplet=x86_64-linux-gnu deb=amd64 ;;
    arm64) goarch=arm64 goarm=- triplet=aarch64-linux-gnu deb=arm64 ;;
    armv7) goarch=arm goarm=7 triplet=arm-linux-gnueabihf deb=armhf ;;
    armv6) goarch=arm goarm=6 triplet=arm-linux-gnueabi deb=armel ;;
    *) echo "build.sh: unknown arch $1 (want: ${all_arches[*]})" >&2; return 2 ;;
  esac
  if [[ $deb == "$host_deb" ]]; then
    echo "$goarch $goarm $triplet-gcc gcc libc6-dev"
  else
    echo "$goarch $goarm $triplet-gcc gcc-${triplet//_/-} libc6-dev-$deb-cross"
  fi
}

# ensure_compilers ARCH...: apt-get install the C cross compilers that are
# missing, and qemu-user-static to check the ARM binaries' --version.
ensure_compilers() {
  local a p t missing=() want=()
  for a in "$@"; do
    read -ra t <<< "$(target "$a")"
    want+=("${t[@]:3}")
    [[ $a != arm* ]] || want+=(qemu-user-static)
  done
  for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [[ ${DOORBELL_SKIP_APT:-0} == 1 ]]; then
    echo "build.sh: missing ${missing[*]} and DOORBELL_SKIP_APT=1" >&2; return 1
  fi
  local sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  echo "build.sh: installing ${missing[*]}"
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

arches=("$@")
if [[ ${arches[0]:-} == deps ]]; then ensure_compilers "${all_arches[@]}"; exit 0; fi
((${#arches[@]})) || arches=("${all_arches[@]}")
for a in "${arches[@]}"; do target "$a" >/dev/null; done
ensure_compilers "${arches[@]}"
command -v go >/dev/null || { echo "build.sh: Go is missing (need Go >= 1.26)" >&2; exit 1; }

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
# OTA compares versions as semver: an untagged build is a pre-release of 0.0.0.
[[ $VERSION =~ ^v?[0-9]+\.[0-9]+\.[0-9]+ ]] || VERSION=0.0.0-${VERSION//[^0-9A-Za-z-]/-}
cmds=()
if [[ -n ${BUILD_CMDS:-} ]]; then
  read -ra cmds <<< "$BUILD_CMDS"
else
  for d in firmware/cmd/*/ ota/cmd/*/; do
    [[ -d $d ]] && ls "$d"*.go >/dev/null 2>&1 && cmds+=("${d%/}")
  done
fi
((${#cmds[@]})) || { echo "build.sh: no commands found" >&2; exit 1; }

mkdir -p "$DIST"
# A full build replaces dist/; a partial one (build.sh arm64) keeps the other arches.
(($#)) || rm -f "$DIST"/*-linux-* "$DIST/SHA256SUMS"
echo "build.sh: version $VERSION, commands: ${cmds[*]##*/}, arches: ${arches[*]}"
for a in "${arches[@]}"; do
  read -ra t <<< "$(target "$a")"
  for c in "${cmds[@]}"; do
    out=$DIST/${c##*/}-linux-$a
    goenv=(CGO_ENABLED=1 GOOS=linux GOARCH="${t[0]}" CC="${t[2]}")
    [[ ${t[1]} == - ]] || goenv+=(GOARM="${t[1]}")
    env "${goenv[@]}" go build -trimpath -tags netgo,osusergo -o "$out" \
      -ldflags "-s -w -X main.version=$VERSION -linkmode external -extldflags -static" "./$c"
    printf '  %-28s %s\n' "${out#"$ROOT"/}" "$( (file -b "$out" 2>/dev/null || echo built) | cut -d, -f1-2,4)"
  done
done

# A release tarball per arch: what a user copies to the board, unpacks and
# installs from (README "Install on a Raspberry Pi"; scripts/board.sh does
# exactly that on an emulated board):
#   doorbelld-<version>-linux-<arch>/{dist/*-linux-<arch>, scripts/install.sh,
#     scripts/doorbelld.service, firmware/config/example.yaml, README.md}
if [[ -z ${BUILD_CMDS:-} ]]; then
  for a in "${arches[@]}"; do
    rm -f "$DIST"/doorbelld-*-linux-"$a".tar.gz # this arch's older ones; other arches' stay
    stage=$(mktemp -d); top=doorbelld-$VERSION-linux-$a
    mkdir -p "$stage/$top/dist" "$stage/$top/scripts" "$stage/$top/firmware/config"
    cp "$DIST"/*-linux-"$a" "$stage/$top/dist/"
    cp scripts/install.sh scripts/doorbelld.service "$stage/$top/scripts/"
    cp firmware/config/example.yaml "$stage/$top/firmware/config/"
    cp README.md "$stage/$top/"
    tar -C "$stage" --owner=0 --group=0 -czf "$DIST/$top.tar.gz" "$top"
    rm -rf "$stage"
  done
fi

# SHA256SUMS covers every binary and tarball in dist/ (also those of earlier runs for other arches).
(cd "$DIST" && find . -maxdepth 1 -type f -name '*-linux-*' ! -name '*.sha256' -printf '%f\n' | sort |
  xargs -r sha256sum > SHA256SUMS)
echo "build.sh: $DIST/SHA256SUMS"
sed 's/^/  /' "$DIST/SHA256SUMS"

# The stamp is what --version prints: check it on every binary this machine
# can run, natively or under qemu-user (armv6 on an ARM1176 CPU model, so an
# ARMv7 instruction in the startup path would show up here as SIGILL).
host=$(go env GOARCH)
for a in "${arches[@]}"; do
  f=$DIST/doorbelld-linux-$a run=()
  case $a in
    "$host") ;;
    arm64) run=(qemu-aarch64-static) ;;
    armv7) run=(env QEMU_CPU=cortex-a7 qemu-arm-static) ;;
    armv6) run=(env QEMU_CPU=arm1176 qemu-arm-static) ;;
    *) continue ;;
  esac
  if ((${#run[@]})) && ! command -v "${run[-1]}" >/dev/null; then
    echo "build.sh: $a: --version NOT checked: ${run[-1]} is missing (apt install qemu-user-static)" >&2
    continue
  fi
  got=$("${run[@]}" "$f" --version 2>&1) || true
  [[ $got == "doorbelld $VERSION" ]] || { echo "build.sh: $a: --version says '$got', want 'doorbelld $VERSION'" >&2; exit 1; }
  echo "build.sh: $a: $got${run:+ (under ${run[-1]})}"
done
