#!/usr/bin/env bash
# Proof of no egress: the real doorbelld in its own network namespace, with
# Mosquitto and a LAN client in two others, nftables counting every packet it
# sends (firmware/cmd/doorbelld/egress_test.go). Needs root, iproute2,
# nftables, tcpdump, mosquitto and ffmpeg; here a missing one fails the run
# instead of skipping it.
# Usage: sudo scripts/egress.sh        Env: DOORBELL_EGRESS_BIN=DIR uses DIR's
#        doorbelld and doorbellctl instead of building them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "egress.sh: needs root (network namespaces, nftables, tcpdump)" >&2
  exit 1
fi
for tool in ip nft tcpdump mosquitto ffmpeg ffprobe; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || {
    echo "egress.sh: $tool is missing (apt-get install -y iproute2 nftables tcpdump mosquitto ffmpeg)" >&2
    exit 1
  }
done
export PATH=$PATH:/usr/sbin:/sbin
export DOORBELL_EGRESS_REQUIRED=1
exec go test -tags egress -count=1 -run TestEgress -v ./firmware/cmd/doorbelld/
