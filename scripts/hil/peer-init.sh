#!/bin/busybox sh
# /init of the peer-comparison guest (scripts/hil/peer.sh): runs doorbelld
# (three ways, see below) and then Debian's motion on the same vivid stream for
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
# the camera's frame count (the first "Frames" in /api/status is the camera's)
frames() { wget -q -O - http://127.0.0.1:8080/api/status 2>/dev/null | tr -d " \n" |
  grep -o '"camera":{"Available":[a-z]*,"Format":{[^}]*},"LastError":"[^"]*","Frames":[0-9]*' | sed 's/.*://'; }
# where each thread waits: tid, kernel wait channel, syscall number
waits() { for t in /proc/$1/task/*; do echo "${t##*/} $(cat $t/wchan 2>/dev/null) $(cut -d' ' -f1 $t/syscall 2>/dev/null)"; done; }

# measure NAME PID: CPU ticks over T seconds after a 5 s warm-up.
measure() {
  sleep 5
  c0=$(ticks $2); k0=$(sticks $2); p0=$(faults $2); f0=$(frames); x0=$(ctxsw $2); s0=$(cut -d' ' -f1 /proc/uptime); threads $2 > /tmp/threads.0
  : > /tmp/waits
  i=0; while [ $i -lt "$T" ]; do sleep 1; waits $2 >> /tmp/waits; i=$((i + 1)); done
  c1=$(ticks $2); k1=$(sticks $2); p1=$(faults $2); f1=$(frames); x1=$(ctxsw $2); s1=$(cut -d' ' -f1 /proc/uptime); threads $2 > /tmp/threads.1
  # each thread's most frequent wait channel and syscall, sampled once a second
  sort /tmp/waits | uniq -c | sort -k2,2n -k1,1nr | awk '!seen[$2]++ {printf "PEER-WAIT: %s tid %s: %s (syscall %s) in %d of '"$T"' samples\n", name, $2, $3, $4, $1}' name="$1" > /tmp/waits.top
  echo "PEER: $1 ticks=$((c1 - c0)) wall=$(awk "BEGIN{print $s1 - $s0}") frames_counted=$(( ${f1:-0} - ${f0:-0} )) system_ticks=$((k1 - k0)) page_faults=$((p1 - p0)) size=$SIZE context_switches=$((x1 - x0)) fps=${FPS:-25}"
}

for SIZE in $(cat /etc/peer-sizes); do
W=${SIZE%x*} H=${SIZE#*x}
sed -i "s/^  width: .*/  width: $W/; s/^  height: .*/  height: $H/" /etc/doorbell/config.yaml
sed -i "s/^width .*/width $W/; s/^height .*/height $H/" /etc/motion.conf
echo "HIL: peer comparison at $SIZE"

# doorbelld as the board runs it (camera, microphone, speaker), then with
# the camera alone (audio off), as motion is, and that again on one P
# (GOMAXPROCS=1: what a one-core Pi Zero gets, and an option elsewhere).
grep -vE '^  (speaker|microphone|echo):' /etc/doorbell/config.yaml > /etc/doorbell/video.yaml
for v in doorbelld:config: doorbelld-video:video: doorbelld-video-1p:video:1; do
name=${v%%:*} procs=${v##*:} v=${v%:*}
env ${procs:+GOMAXPROCS=$procs} /bin/doorbelld --config /etc/doorbell/${v#*:}.yaml --cpuprofile /tmp/$name-$SIZE.pprof > /tmp/doorbelld.log 2>&1 &
pid=$!
# the rate the camera runs at this size (vivid: 25 fps up to 640x480, 12.5 at
# 1280x720); motion, which has no frame counter, is credited with it
FPS=$(sleep 3; wget -q -O - http://127.0.0.1:8080/api/status | tr -d " \n" | grep -o '"FPS":[0-9.]*' | head -1 | cut -d: -f2)
measure $name $pid
echo "HIL: /api/status $(wget -q -O - http://127.0.0.1:8080/api/status | tr -d " \n" | head -c 900)"
# per thread over the measured window: user and kernel ticks, context
# switches, and where it waited most (PEER-WAIT)
awk 'NR == FNR { u[$1] = $2; k[$1] = $3; v[$1] = $4; next }
  { printf "PEER-THREAD: %s tid %s: user %d kernel %d ticks, %d context switches\n", name, $1, $2 - u[$1], $3 - k[$1], $4 - v[$1] }' \
  name=$name /tmp/threads.0 /tmp/threads.1 | sort -t' ' -k8 -n -r | head -8
cat /tmp/waits.top
kill $pid; wait $pid
grep -m3 -iE 'camera|error' /tmp/doorbelld.log | sed "s/^/$name: /"
# the whole run's CPU profile, for go tool pprof on the host (peer.sh)
[ "$SIZE" != "$(head -c 20 /etc/peer-sizes | cut -d' ' -f1)" ] || base64 /tmp/$name-$SIZE.pprof | sed "s/^/PEER-PPROF: $name /"
done

mkdir -p /tmp/motion
/motion/lib/ld.so --library-path /motion/lib /motion/motion -n -c /etc/motion.conf > /tmp/motion.log 2>&1 &
pid=$!
measure motion $pid
kill $pid; sleep 1; kill -9 $pid 2>/dev/null
grep -iE 'palette|fps|frame|size|error|fail|warn|skipp' /tmp/motion.log | grep -v capability | head -15 | sed 's/^/motion: /'
done
echo "HIL-EXIT: 0"
poweroff -f
