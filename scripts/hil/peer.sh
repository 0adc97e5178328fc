#!/usr/bin/env bash
# Peer comparison: CPU seconds per 1,000 frames of doorbelld and of Debian's
# motion (4.5, motion detection on, all outputs off), one after the other on
# the same vivid stream (YUYV 640x480@25) in the amd64 HIL guest (TCG: the
# absolute numbers are emulated-CPU seconds, only the ratio means something).
# motion is dynamically linked: it runs from the initramfs with its ~220
# libraries (resolved with ldd on this amd64 bookworm host) and their loader.
# Usage: scripts/hil/peer.sh      Env: PEER_SECONDS (40 = 1,000 frames each), HIL_CACHE
set -euo pipefail
export HIL_PEER=1 HIL_ARCH=amd64 HIL_MEM=${HIL_MEM:-2048} HIL_TIMEOUT=${HIL_TIMEOUT:-600}
exec "$(dirname "$0")/../hil.sh" deps kernel module build motion initramfs boot
