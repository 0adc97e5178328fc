#!/bin/busybox sh
# /init of the HIL guest (scripts/hil.sh packs it into the initramfs).
# Prints HIL-RESULT lines (name PASS|FAIL|SKIP detail) and HIL-EXIT, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ifconfig lo 127.0.0.1 up
# The console carries the results (and the clip, base64): kernel messages
# stay in dmesg (its tail is printed at the end), or one printed in the
# middle of a line corrupts it (vivid's "schedule_timeout: wrong timeout
# value" with a stack trace, when its thread falls behind on an emulated CPU).
dmesg -n 1
KVER=$(uname -r)
up() { cut -d' ' -f1 /proc/uptime; }
res() { echo "HIL-RESULT: $*"; }
echo "HIL: guest up $(up)s, kernel $KVER $(uname -m), $(grep -c ^processor /proc/cpuinfo) cpu"

while read -r m args; do
  insmod "/lib/modules/$KVER/$m" $args || echo "HIL: insmod $m FAILED"
done < /modules.order
mkdir -p /sys/kernel/config && mount -t configfs none /sys/kernel/config   # after configfs.ko

# The gpio-sim bank: the emulated board's wiring (scripts/board/board-gpio.sh).
G=/sys/kernel/config/gpio-sim/doorbell
/board-gpio.sh
CHIP=$(cat $G/bank0/chip_name)
SIM=/sys/devices/platform/$(cat $G/dev_name)/$CHIP
if [ -c /dev/$CHIP ] && [ -e $SIM/sim_gpio0/pull ] && [ -c /dev/video0 ]; then
  res "guest-setup PASS /dev/$CHIP (sysfs $SIM), /dev/video0, modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
else
  res "guest-setup FAIL chip=$CHIP video0=$(ls /dev/video0 2>&1)"
fi
export HIL_VIDEO=/dev/video0 HIL_GPIOCHIP=/dev/$CHIP HIL_GPIOSIM=$SIM
# snd-aloop's card for hal/audio's HIL test (which removes the module).
if [ -e /proc/asound/Loopback ]; then
  export HIL_LOOPBACK=Loopback
  echo "HIL: alsa: $(cat /proc/asound/cards | head -1), $(ls /dev/snd | tr '\n' ' ')"
else
  echo "HIL: alsa: no Loopback card (snd-aloop not loaded)"
fi

# 1. go test -c -tags hil binaries, each given the flags it defines.
for t in /tests/*.test; do
  [ -x "$t" ] || continue
  name=${t##*/}; name=${name%.test}
  help=$($t -h 2>&1)
  flags=""
  has() { echo "$help" | grep -qE "^  -$1( |\$)"; }
  has device && flags="$flags -device $HIL_VIDEO"
  has gpiochip && flags="$flags -gpiochip $HIL_GPIOCHIP"
  has gpiosim && flags="$flags -gpiosim $HIL_GPIOSIM"
  has loopback && [ -n "$HIL_LOOPBACK" ] && flags="$flags -loopback $HIL_LOOPBACK"
  run=$(cat "/tests/$name.run" 2>/dev/null)
  echo "HIL: run $name -test.v -test.run '${run:-.}'$flags"
  $t -test.v -test.timeout 120s -test.run "${run:-.}" $flags > /tmp/$name.log 2>&1
  rc=$?
  sed "s/^/$name: /" /tmp/$name.log
  sed -nE "s#^--- (PASS|FAIL|SKIP): ([^ ]+) (.*)#HIL-RESULT: go/$name/\2 \1 \3#p" /tmp/$name.log
  if [ $rc != 0 ] && ! grep -q '^--- FAIL' /tmp/$name.log; then
    res "go/$name FAIL exit $rc without a failing test (panic, timeout or flag error)"
  fi
done

# hal/audio's HIL test removed snd-aloop last: load it again for the daemon's
# microphone (hw:Loopback,1), which hilcheck plays a tone into (hw:Loopback,0).
if [ -n "$HIL_LOOPBACK" ] && [ ! -e /proc/asound/Loopback ]; then
  grep '^snd-aloop' /modules.order | while read -r m args; do
    insmod "/lib/modules/$KVER/$m" $args || echo "HIL: insmod $m again FAILED"
  done
fi
TONE="" TALK=false
[ -e /proc/asound/Loopback ] && TONE="hw:Loopback,0" TALK=true

# 2. The real daemon with its embedded broker, checked over MQTT.
echo "HIL: start doorbelld $(/bin/doorbelld --version) at $(up)s"
/bin/doorbelld --config /etc/doorbell/config.yaml > /tmp/doorbelld.log 2>&1 &
DPID=$!
/bin/hilcheck -gpiosim "$SIM" -pre-roll 2s -post-roll 1s -clips /tmp/doorbell/clips -pid $DPID -version "$(cat /etc/doorbell/VERSION)" \
  -restart "/bin/doorbelld --config /etc/doorbell/config.yaml" -tone "$TONE" -talk=$TALK \
  -load-presses "$(cat /etc/load-presses 2>/dev/null || echo 0)" -load-hogs "$(cat /etc/load-hogs 2>/dev/null || echo 4)" -log /tmp/doorbelld.log
rc=$?
sleep 1
if [ $rc != 0 ] || [ -n "$HIL_VERBOSE" ]; then
  echo "HIL: doorbelld log (last 80 lines):"
  tail -80 /tmp/doorbelld.log | sed 's/^/doorbelld: /'
fi
kill -9 $DPID 2>/dev/null
dmesg | grep -iE 'gpio-sim|vivid|taint|bug:|oops|warn' | tail -10 | sed 's/^/HIL: dmesg: /'
echo "HIL: done at $(up)s"
echo "HIL-EXIT: $rc"
poweroff -f
