#!/usr/bin/env bash
# Peer comparison: CPU seconds and context switches per 1,000 frames of
# doorbelld and of Debian's motion (4.5, motion detection on, all outputs
# off), one after the other on the same vivid YUYV stream in the amd64 HIL
# guest (TCG: the absolute numbers are emulated-CPU seconds, only the ratio
# means something). doorbelld runs three ways: as configured for the HIL
# (camera, microphone, speaker), camera only (as motion), and camera only
# with GOMAXPROCS=1; each thread's CPU, switches and most frequent wait
# channel are printed (PEER-THREAD, PEER-WAIT), and a CPU profile of each.
# motion is dynamically linked: it runs from the initramfs with its ~220
# libraries (resolved with ldd on this amd64 bookworm host) and their loader.
#
# The guest's clock is the TSC (kernel arguments clocksource=tsc
# tsc=reliable; HIL_APPEND replaces them). Left alone, the TCG guest picks
# the HPET, and every clock read (clock_gettime, which Go's scheduler and
# timers make many times a frame) becomes an emulated device access costing
# microseconds: that added a third to doorbelld's CPU per frame (3.26 vs 2.42 s per
# 1,000 frames, motion 2.42 vs 2.41) while no board reads its clock that
# way (a Pi's arch timer is read in the vDSO, like the TSC here).
# Usage: scripts/hil/peer.sh      Env: PEER_SECONDS (40 = 1,000 frames each), PEER_SIZES
#        ("640x480 1280x720": each size measured for both programs), HIL_CACHE, HIL_APPEND
set -euo pipefail
export HIL_PEER=1 HIL_ARCH=amd64 HIL_MEM=${HIL_MEM:-2048} HIL_TIMEOUT=${HIL_TIMEOUT:-600}
export HIL_APPEND=${HIL_APPEND-clocksource=tsc tsc=reliable}
exec "$(dirname "$0")/../hil.sh" deps kernel module build motion initramfs boot
