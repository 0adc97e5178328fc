#!/bin/busybox sh
# /init of the peer-comparison guest (scripts/hil/peer.sh): runs doorbelld and
# then Debian's motion on the same vivid stream (YUYV at 25 fps) for
# PEER_SECONDS each, at each size of PEER_SIZES (/etc/peer-sizes), and
# prints their CPU time and context switches as PEER lines.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
KVER=$(uname -r)
while read -r m args; do
  insmod "/lib/modules/$KVER/$m" $args || echo "HIL: insmod $m FAILED"
done < /modules.order
mkdir -p /sys/kernel/config && mount -t configfs none /sys/kernel/config
ifconfig lo 127.0.0.1 up
/board-gpio.sh >/dev/null   # the gpio-sim bank (scripts/board/board-gpio.sh)
T=$(cat /etc/peer-seconds)
echo "HIL: peer comparison, $T s per program, $(grep -c ^processor /proc/cpuinfo) cpu, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), uptime $(cut -d' ' -f1 /proc/uptime)s"

ticks() { awk '{print $14 + $15}' /proc/$1/stat; }   # utime + stime, 1/100 s
sticks() { awk '{print $15}' /proc/$1/stat; }        # stime alone (in the kernel, for the process)
faults() { awk '{print $10}' /proc/$1/stat; }        # minor page faults
threads() {   # tid utime stime context-switches, one line per thread
  for t in /proc/$1/task/*; do
    echo "${t##*/} $(awk '{print $14, $15}' $t/stat) $(awk '/ctxt_switches/ {n += $2} END {print n}' $t/status)"
  done
}
ctxsw() { cat /proc/$1/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }  # every thread's, voluntary and not
frames() { wget -q -O - http://127.0.0.1:8080/api/status 2>/dev/null | tr -d " \n" | sed -n 's/.*"Frames":\([0-9]*\).*/\1/p'; }

# measure NAME PID: CPU ticks over T seconds after a 5 s warm-up.
measure() {
  sleep 5
  c0=$(ticks $2); k0=$(sticks $2); p0=$(faults $2); f0=$(frames); x0=$(ctxsw $2); s0=$(cut -d' ' -f1 /proc/uptime); threads $2 > /tmp/threads.0
  sleep "$T"
  c1=$(ticks $2); k1=$(sticks $2); p1=$(faults $2); f1=$(frames); x1=$(ctxsw $2); s1=$(cut -d' ' -f1 /proc/uptime); threads $2 > /tmp/threads.1
  echo "PEER: $1 ticks=$((c1 - c0)) wall=$(awk "BEGIN{print $s1 - $s0}") frames_counted=$(( ${f1:-0} - ${f0:-0} )) system_ticks=$((k1 - k0)) page_faults=$((p1 - p0)) size=$SIZE context_switches=$((x1 - x0))"
}

for SIZE in $(cat /etc/peer-sizes); do
W=${SIZE%x*} H=${SIZE#*x}
sed -i "s/^  width: .*/  width: $W/; s/^  height: .*/  height: $H/" /etc/doorbell/config.yaml
sed -i "s/^width .*/width $W/; s/^height .*/height $H/" /etc/motion.conf
echo "HIL: peer comparison at $SIZE"

/bin/doorbelld --config /etc/doorbell/config.yaml --cpuprofile /tmp/doorbelld-$SIZE.pprof > /tmp/doorbelld.log 2>&1 &
pid=$!
measure doorbelld $pid
echo "HIL: /api/status $(wget -q -O - http://127.0.0.1:8080/api/status | tr -d " \n" | head -c 900)"
# per thread over the measured window: user and kernel ticks, context switches
awk 'NR == FNR { u[$1] = $2; k[$1] = $3; v[$1] = $4; next }
  { printf "PEER-THREAD: doorbelld tid %s: user %d kernel %d ticks, %d context switches\n", $1, $2 - u[$1], $3 - k[$1], $4 - v[$1] }' \
  /tmp/threads.0 /tmp/threads.1 | sort -t' ' -k8 -n -r | head -8
kill $pid; wait $pid
grep -m3 -iE 'camera|error' /tmp/doorbelld.log | sed 's/^/doorbelld: /'
# the whole run's CPU profile, for go tool pprof on the host (peer.sh)
[ "$SIZE" != "$(head -c 20 /etc/peer-sizes | cut -d' ' -f1)" ] || base64 /tmp/doorbelld-$SIZE.pprof | sed 's/^/PEER-PPROF: /'

mkdir -p /tmp/motion
/motion/lib/ld.so --library-path /motion/lib /motion/motion -n -c /etc/motion.conf > /tmp/motion.log 2>&1 &
pid=$!
measure motion $pid
kill $pid; sleep 1; kill -9 $pid 2>/dev/null
grep -iE 'palette|fps|frame|size|error|fail|warn|skipp' /tmp/motion.log | grep -v capability | head -15 | sed 's/^/motion: /'
done
echo "HIL-EXIT: 0"
poweroff -f
