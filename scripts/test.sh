#!/usr/bin/env bash
# Runs every doorbelld test on a fresh Debian/Ubuntu machine (or a laptop
# with the tools already there):
#   1. installs what it needs (gcc, mosquitto, mosquitto-clients, ffmpeg, chromium, age, nftables,
#      tcpdump) if missing
#   2. gofmt, go vet, builds for other platforms (no cgo, macOS)
#   3. unit and integration tests with the race detector, in one run, against a
#      real Mosquitto started here on a free loopback port (with go2rtc, built by
#      scripts/go2rtc.sh); beside it, unit tests under qemu-user on ARM
#      (arm64 and armv6 every package, armv7 the hardware edge)
#   4. every benchmark once (-benchtime=1x), with the figures printed
#   5. release builds for amd64/arm64/armv7/armv6
#   6. (as root) the proof of no egress (doorbelld in network namespaces, every packet counted),
#      the install script in a debootstrap root, and the emulated-hardware tests:
#      the real doorbelld in qemu (amd64 and arm64 guests) with the vivid and gpio-sim drivers,
#      and a whole board: Debian booted from a disk image with systemd as PID 1, the release
#      tarball installed by install.sh, doorbelld run by systemd (scripts/board.sh)
# Usage: scripts/test.sh            Env: DOORBELL_SKIP_APT=1 skips the apt step.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's heading says how long the run has taken so far (the CI budget).
say() { printf '\n== %s   [%d min %02d s into the run]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

say "dependencies"
missing=()
for tool in gcc:gcc mosquitto:mosquitto mosquitto_sub:mosquitto-clients ffprobe:ffmpeg chromium:chromium age:age ip:iproute2 nft:nftables tcpdump:tcpdump; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || [[ -x /usr/sbin/${tool%%:*} ]] || missing+=("${tool#*:}")
done
if ((${#missing[@]})) && [[ ${DOORBELL_SKIP_APT:-0} != 1 ]]; then
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is missing: install Go >= 1.26 from https://go.dev/dl/"; exit 1; }
go version
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
systemctl stop mosquitto 2>/dev/null || true   # the packaged service is not used; ours runs on its own port

say "format and vet"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[[ -z $bad ]] || { echo "gofmt needed: $bad"; exit 1; }
go vet ./...
go vet -tags integration ./...
go vet -tags egress ./firmware/cmd/doorbelld/
CGO_ENABLED=0 go build ./...
GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go build ./...

say "go2rtc, built from the module proxy (firmware/rtsp's TestGo2RTC: watching and two-way audio through it)"
DOORBELL_GO2RTC=$(scripts/go2rtc.sh)
export DOORBELL_GO2RTC
echo "$DOORBELL_GO2RTC"

say "mosquitto"
work=$(mktemp -d)
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
port=$(free_port)
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
CONF
"$MOSQUITTO" -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
mpid=$!
trap 'kill $mpid 2>/dev/null; wait $mpid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "mosquitto $($MOSQUITTO -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:$port"
export DOORBELL_TEST_BROKER="tcp://127.0.0.1:$port"

# One run: the integration tag adds the broker tests to every package's
# unit tests (no test is built only without it), so a separate unit run
# would run them all twice.
# The unit tests on ARM under qemu-user run beside it, on the same
# Mosquitto (so every test's MQTT client id must be its own): each is the
# other's load (no test may depend on timing; README asks for exactly this
# load run before a change lands), and together they take about 3 minutes
# less than one after the other. armv6 and armv7 are the
# same 32-bit code (GOARM picks the floating-point and atomic
# instructions): every package runs on the stricter armv6 CPU model, and
# armv7 runs the packages at the hardware edge (ioctls, their struct
# layouts, GPIO, sound, video, the OTA installer).
say "unit and integration tests (-race, real Mosquitto); beside them, unit tests on arm64, armv6 (all) and armv7 (hardware edge) under qemu-user (scripts/cross-test.sh)"
cross_log=$work/cross-test.log
(
  env -u DOORBELL_GO2RTC scripts/cross-test.sh arm64 armv6 &&
    env -u DOORBELL_GO2RTC CROSS_PKGS="./hal/... ./capture/v4l2src ./capture/mic ./ota/..." scripts/cross-test.sh armv7
) >"$cross_log" 2>&1 &
cross_pid=$!
race_rc=0
go test -race -count=1 -tags integration ./... || race_rc=$?
cross_rc=0
wait $cross_pid || cross_rc=$?
say "the unit tests under qemu-user, run beside the -race run: their output"
cat "$cross_log"
((race_rc == 0)) || { echo "test.sh: the -race run failed (exit $race_rc)"; exit 1; }
((cross_rc == 0)) || { echo "test.sh: scripts/cross-test.sh failed (exit $cross_rc)"; exit 1; }

say "benchmarks (once each)"
go test -count=1 -tags integration -run '^$' -bench . -benchtime 1x ./... | grep -Ev '^(goos|goarch|pkg|cpu):|no test files'

say "release builds: amd64, arm64, armv7, armv6 (scripts/build.sh)"
scripts/build.sh

if [[ $(id -u) == 0 ]]; then
  say "proof of no egress: doorbelld in network namespaces, every packet counted (scripts/egress.sh)"
  scripts/egress.sh
  say "install script in a throw-away Debian root (scripts/test-install.sh)"
  scripts/test-install.sh
  say "emulated hardware: the real doorbelld in qemu with vivid + gpio-sim, amd64 and arm64 (scripts/hil.sh)"
  scripts/hil.sh
  HIL_ARCH=arm64 scripts/hil.sh
  say "a whole board: Debian on a disk image, systemd as PID 1, the release tarball installed by install.sh (scripts/board.sh)"
  scripts/board.sh
else
  say "skipped egress.sh, test-install.sh, hil.sh and board.sh: they need root (CI runs as root)"
fi

say "all tests passed"
