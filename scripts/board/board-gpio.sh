#!/bin/sh
# The board's "wiring": a gpio-sim bank, run by board-gpio.service before
# doorbelld on the emulated board, and by the HIL guests' /init
# (scripts/hil/init.sh, peer-init.sh). Lines: BUTTON (pulled up:
# released), PIR, CHIME, spare lines for HIL tests, DOOR (pulled down: a
# released relay), SPARE7. /run/gpiosim links the bank's sysfs lines.
set -e
G=/sys/kernel/config/gpio-sim/doorbell
[ -d $G ] && exit 0
mkdir $G $G/bank0
echo 8 > $G/bank0/num_lines
echo doorbell-sim > $G/bank0/label
i=0
for n in BUTTON PIR CHIME SPARE3 SPARE4 SPARE5 DOOR SPARE7; do
  mkdir $G/bank0/line$i && echo $n > $G/bank0/line$i/name
  i=$((i + 1))
done
echo 1 > $G/live
chip=$(cat $G/bank0/chip_name)
mkdir -p /run
ln -sfn /sys/devices/platform/$(cat $G/dev_name)/$chip /run/gpiosim
# Who may press the button: the board's control shell (root) only.
echo "board-gpio: /dev/$chip, sysfs /run/gpiosim"
