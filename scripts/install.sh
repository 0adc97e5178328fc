#!/usr/bin/env bash
# Installs doorbelld on Raspberry Pi OS or Debian (run as root):
#   user doorbell (system user, groups gpio, video and audio; missing groups are created)
#   /usr/local/bin/doorbelld                   from dist/doorbelld-linux-<arch> or the BINARY argument
#   /usr/local/bin/doorbelld-boot              the OTA launcher systemd starts (dist/doorbelld-boot-linux-<arch>,
#                                              or next to BINARY); never updated over the air
#   /var/lib/doorbell/ota/{slot-a,slot-b,current}  the A/B slots the launcher runs; seeded with the
#                                              binary on the first install (or with --reseed)
#   /etc/doorbell/config.yaml                  from firmware/config/example.yaml, never overwritten
#                                              (root:doorbell 0640: it may hold the MQTT password)
#   /etc/doorbell/config.example.yaml          the example of this version, refreshed on every run
#   /var/lib/doorbell                          state (doorbell:doorbell 0750)
#   /etc/systemd/system/doorbelld.service      scripts/doorbelld.service, enabled
#   /etc/udev/rules.d/60-doorbelld-gpio.rules  /dev/gpiochip* to group gpio, 0660
#   /etc/systemd/journald.conf.d/60-doorbelld.conf  a size-bounded journal (SD-card wear), only if
#                                              absent (an edited one is kept)
# Running it again upgrades the launcher, /usr/local/bin/doorbelld and the unit and keeps config
# and state; the running version then comes from signed OTA updates (README "Updates"), or from
# --reseed, which puts BINARY in the slots and resets the OTA version floor.
#
# Usage: scripts/install.sh [--root DIR] [--reseed] [BINARY]
#        scripts/install.sh --uninstall [--purge] [--root DIR]
#   --uninstall  stop and remove the service, binary and udev rule; keep config, state and user
#   --purge      with --uninstall: also remove /etc/doorbell, /var/lib/doorbell and user doorbell
#   --root DIR   (or DESTDIR=DIR) install into DIR as root of the filesystem, e.g. an image
#                being built; users go to DIR/etc/passwd, nothing is started
# Env: DOORBELL_ARCH  amd64|arm64|armv7|armv6 picks dist/doorbelld-linux-<arch> (default: from uname -m)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
R=${DESTDIR:-}
mode=install purge=0 bin="" reseed=0
while (($#)); do
  case $1 in
    --uninstall) mode=uninstall ;;
    --purge) purge=1 ;;
    --reseed) reseed=1 ;;
    --root) R=$2; shift ;;
    --root=*) R=${1#--root=} ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) bin=$1 ;;
  esac
  shift
done
((purge == 0)) || [[ $mode == uninstall ]] || { echo "install.sh: --purge goes with --uninstall" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "install.sh: run as root (sudo $0 $*)" >&2; exit 1; }
R=${R%/}
if [[ -n $R ]]; then
  [[ -d $R/etc ]] || { echo "install.sh: --root $R has no etc/" >&2; exit 1; }
  R=$(cd "$R" && pwd); [[ $R == / ]] && R=""
fi
P=(); [[ -z $R ]] || P=(--prefix "$R")   # shadow's useradd/groupadd work on $R/etc
live=0; [[ -z $R && -d /run/systemd/system ]] && live=1   # systemd is running here

USER_=doorbell
BIN=/usr/local/bin/doorbelld
BOOT=/usr/local/bin/doorbelld-boot
ETC=/etc/doorbell
STATE=/var/lib/doorbell
UNIT=/etc/systemd/system/doorbelld.service
WANTS=/etc/systemd/system/multi-user.target.wants/doorbelld.service
UDEV=/etc/udev/rules.d/60-doorbelld-gpio.rules
JOURNALD=/etc/systemd/journald.conf.d/60-doorbelld.conf

say() { echo "install.sh: $*"; }
# id_of passwd|group NAME: numeric id inside $R (chown by name would ask this machine's NSS).
id_of() { awk -F: -v n="$2" '$1 == n { print $3; found = 1 } END { exit !found }' "$R/etc/$1"; }

if [[ $mode == uninstall ]]; then
  if ((live)); then systemctl disable --now doorbelld.service 2>/dev/null || true; fi
  rm -f "$R$WANTS" "$R$UNIT" "$R$BIN" "$R$BOOT" "$R$UDEV"
  # The journal's bounds go with the doorbell, unless the owner edited them.
  if [[ -f $R$JOURNALD ]] && grep -q '^# doorbelld install.sh: unedited' "$R$JOURNALD"; then rm -f "$R$JOURNALD"; fi
  ((live)) && systemctl daemon-reload
  say "removed the service, $BIN and the udev rule"
  if ((purge)); then
    rm -rf "$R$ETC" "$R$STATE"
    if id_of passwd "$USER_" >/dev/null; then userdel "${P[@]}" "$USER_"; fi
    say "purged $ETC, $STATE and user $USER_ (groups gpio, video and audio are kept)"
  else
    say "kept $ETC, $STATE and user $USER_ (--uninstall --purge removes them)"
  fi
  exit 0
fi

# The binary: the argument, or dist/doorbelld-linux-<arch> of this checkout/release.
if [[ -z $bin ]]; then
  arch=${DOORBELL_ARCH:-}
  if [[ -z $arch ]]; then
    case $(uname -m) in
      x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;;
      armv7*|armv8l) arch=armv7 ;; armv6*) arch=armv6 ;;
      *) echo "install.sh: no build for $(uname -m); pass the binary" >&2; exit 1 ;;
    esac
  fi
  bin=$SRC/dist/doorbelld-linux-$arch
  [[ -f $bin ]] || { echo "install.sh: $bin missing: run scripts/build.sh $arch, or pass the binary" >&2; exit 1; }
fi
[[ -f $bin ]] || { echo "install.sh: no file $bin" >&2; exit 1; }
boot=$(dirname "$bin")/$(basename "$bin" | sed 's/^doorbelld/doorbelld-boot/')
[[ -f $boot ]] || { echo "install.sh: the OTA launcher $boot is missing (scripts/build.sh makes it)" >&2; exit 1; }
example=$SRC/firmware/config/example.yaml
[[ -f $example ]] || { echo "install.sh: $example missing" >&2; exit 1; }
unitsrc=$SRC/scripts/doorbelld.service
if ver=$("$bin" --version 2>/dev/null); then
  say "installing $ver"
elif [[ -z $R ]]; then
  echo "install.sh: $bin does not run on this machine ($(uname -m)): wrong arch?" >&2; exit 1
fi

# Groups and user.
for g in gpio video audio; do
  id_of group "$g" >/dev/null || { groupadd "${P[@]}" --system "$g"; say "created group $g"; }
done
if id_of passwd "$USER_" >/dev/null; then
  usermod "${P[@]}" -a -G gpio,video,audio "$USER_"
else
  nologin=/usr/sbin/nologin; [[ -x $R$nologin ]] || nologin=/bin/false
  useradd "${P[@]}" --system --user-group --no-create-home --home-dir "$STATE" \
    --shell "$nologin" --comment "doorbelld" --groups gpio,video,audio "$USER_"
  say "created user $USER_"
fi
uid=$(id_of passwd "$USER_"); gid=$(id_of group "$USER_")

# Files.
install -D -m 0755 -o 0 -g 0 "$bin" "$R$BIN.new" && mv -f "$R$BIN.new" "$R$BIN"   # atomic for a running service
install -D -m 0755 -o 0 -g 0 "$boot" "$R$BOOT.new" && mv -f "$R$BOOT.new" "$R$BOOT"
install -d -m 0750 -o 0 -g "$gid" "$R$ETC"
install -m 0640 -o 0 -g "$gid" "$example" "$R$ETC/config.example.yaml"
if [[ -e $R$ETC/config.yaml ]]; then
  say "kept $ETC/config.yaml (the new example is $ETC/config.example.yaml)"
else
  install -m 0640 -o 0 -g "$gid" "$example" "$R$ETC/config.yaml"
  say "wrote $ETC/config.yaml from the example: set gpio.button.line and mqtt.broker"
fi
install -d -m 0750 -o "$uid" -g "$gid" "$R$STATE"
# The OTA slots: seeded once; later versions arrive as signed updates.
if [[ ! -e $R$STATE/ota/current ]] || ((reseed)); then
  seedver=${ver#doorbelld }; seedver=${seedver%%+*}
  [[ -n ${ver:-} ]] || seedver=0.0.0
  rm -rf "$R$STATE/ota"
  install -d -m 0750 -o "$uid" -g "$gid" "$R$STATE/ota"
  # The launcher is built for the target; in an image for another arch, seed by hand with
  # the same layout (slot-a/doorbelld, current -> slot-a, state.json via doorbelld-boot --seed).
  if out=$("$R$BOOT" --dir "$R$STATE/ota" --seed "$bin" --seed-version "$seedver" 2>&1); then
    chown -R "$uid:$gid" "$R$STATE/ota"
    say "seeded $STATE/ota with $seedver"
  elif [[ -n ${ver:-} ]]; then   # the binaries run here: a failed seed is a real error
    echo "install.sh: seeding $STATE/ota failed: $out" >&2
    exit 1
  else
    echo "install.sh: could not seed $STATE/ota (launcher for another arch?): seed it on the device with" >&2
    echo "  runuser -u $USER_ -- $BOOT --dir $STATE/ota --seed $BIN --seed-version VERSION" >&2
  fi
else
  say "kept the OTA slots in $STATE/ota (--reseed replaces them with this binary)"
fi
install -D -m 0644 -o 0 -g 0 "$unitsrc" "$R$UNIT"
mkdir -p "$(dirname "$R$UDEV")"
printf '%s\n' '# doorbelld: the GPIO character devices belong to group gpio (Raspberry Pi OS does this too).' \
  'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' > "$R$UDEV"
chmod 0644 "$R$UDEV"

# The journal on an SD card: bounded in size, written at most every 5
# minutes for ordinary lines (journald's SyncIntervalSec default; errors at
# once). Storage=volatile (commented) keeps it in RAM: no writes at all,
# and no logs after a power cut. An existing file is the owner's: kept.
if [[ ! -e $R$JOURNALD ]]; then
  mkdir -p "$(dirname "$R$JOURNALD")"
  printf '%s\n' '# doorbelld install.sh: unedited (--uninstall removes this file while this line is here)' \
    '# A journal that spares the SD card (README "SD-card wear"). Uncomment Storage=volatile' \
    '# to keep logs in RAM only: no writes, but nothing survives a reboot.' \
    '[Journal]' 'SystemMaxUse=32M' 'SystemMaxFileSize=8M' 'RuntimeMaxUse=16M' 'SyncIntervalSec=5m' '#Storage=volatile' > "$R$JOURNALD"
  chmod 0644 "$R$JOURNALD"
  say "bounded the journal: $JOURNALD (from the next boot)"
fi

# Enable (what systemctl enable does for WantedBy=multi-user.target).
if ((live)); then
  udevadm control --reload-rules 2>/dev/null && udevadm trigger --subsystem-match=gpio --action=add 2>/dev/null || true
  systemctl daemon-reload
  systemctl enable doorbelld.service
else
  mkdir -p "$(dirname "$R$WANTS")"
  ln -sfn "$UNIT" "$R$WANTS"
fi

if [[ -n ${ver:-} ]]; then
  if out=$("$R$BIN" --check-config --config "$R$ETC/config.yaml" 2>&1); then say "$out"
  else say "config needs editing before the service can start:"; echo "$out"; fi
fi
if ((live)); then
  if systemctl is-active --quiet doorbelld.service; then
    systemctl restart doorbelld.service; say "restarted doorbelld"
  else
    say "edit $ETC/config.yaml, then: systemctl start doorbelld; journalctl -u doorbelld -f"
  fi
fi
say "done"
