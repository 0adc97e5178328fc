#!/usr/bin/env bash
# Builds go2rtc (the RTSP/WebRTC hub inside Home Assistant) from the Go
# module proxy, for firmware/rtsp's TestGo2RTC, and prints its path.
# Cached in ${XDG_CACHE_HOME:-~/.cache}/doorbelld-go2rtc. The proxy serves
# go2rtc v1.9.9 but not its version list, so the module is fetched by exact
# version; its pkg/v4l2/device has a C file (for go generate) that a
# CGO_ENABLED=0 build refuses, so the build uses a copy without it.
# Usage: DOORBELL_GO2RTC=$(scripts/go2rtc.sh)
set -euo pipefail
V=v1.9.9
C=${XDG_CACHE_HOME:-$HOME/.cache}/doorbelld-go2rtc
bin=$C/go2rtc-$V
if [[ -x $bin ]]; then echo "$bin"; exit 0; fi
mkdir -p "$C"
work=$(mktemp -d); trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/AlexxIT/go2rtc@$V" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $dir ]] || { echo "go2rtc.sh: go mod download github.com/AlexxIT/go2rtc@$V gave no directory" >&2; exit 1; }
cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"
find "$work/src" -name '*.c' -delete
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$bin.tmp" .) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
