#!/usr/bin/env bash
# Tests scripts/install.sh and scripts/doorbelld.service (run as root):
#   1. unit: install.sh --root into a scratch root (binary, unit, users), add
#      this machine's systemd units, and `systemd-analyze verify --root` the
#      unit: it must be silent (any warning fails)
#   2. a throw-away Debian bookworm (debootstrap --variant=minbase) under
#      chroot: install, re-run (idempotent, config kept), user/groups/files/
#      modes, --check-config of the installed example, the user can read its
#      config and write its state, --uninstall keeps data, --purge removes it
# The minbase tree is cached as a tarball (debootstrap --make-tarball) in
# $XDG_CACHE_HOME/doorbelld or /var/cache/doorbelld, so reruns skip the
# download; delete it to fetch a fresh one.
#
# Usage: scripts/test-install.sh [BINARY]   (default: scripts/build.sh amd64 of
#        this tree into a temp dir, so the binary knows every key of the example)
# Env:   DOORBELL_SKIP_APT=1 never runs apt-get; MIRROR overrides the Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "test-install.sh: run as root (debootstrap, chroot)" >&2; exit 1; }

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-analyze >/dev/null || need+=(systemd)
if ((${#need[@]})); then
  [[ ${DOORBELL_SKIP_APT:-0} != 1 ]] || { echo "test-install.sh: missing ${need[*]}" >&2; exit 1; }
  echo "test-install.sh: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

W=$(mktemp -d /var/tmp/doorbelld-test-install.XXXXXX)
trap 'rm -rf "$W"' EXIT
if [[ -n ${1:-} ]]; then
  bin=$(realpath "$1")
else   # built from this tree, so binary and example config match
  DIST=$W/dist BUILD_CMDS="firmware/cmd/doorbelld ota/cmd/doorbelld-boot" scripts/build.sh amd64 >/dev/null
  bin=$W/dist/doorbelld-linux-amd64
fi

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }


# ---- the bookworm minbase root (cached tarball)
mirror=${MIRROR:-$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && !/security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
cache=${XDG_CACHE_HOME:-/var/cache}/doorbelld
tarball=$cache/debootstrap-bookworm-minbase-$(dpkg --print-architecture).tgz
mkdir -p "$cache"
root=$W/root
s=$SECONDS
if [[ ! -s $tarball ]]; then
  echo "test-install.sh: debootstrap --make-tarball from $mirror (cached at $tarball)"
  debootstrap --variant=minbase --make-tarball="$tarball.tmp" bookworm "$W/mk" "$mirror" >"$W/debootstrap.log" 2>&1 ||
    { tail -20 "$W/debootstrap.log"; exit 1; }
  mv "$tarball.tmp" "$tarball"; rm -rf "$W/mk"
  echo "test-install.sh: download took $((SECONDS - s)) s"
fi
s2=$SECONDS
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" "$mirror" >"$W/debootstrap.log" 2>&1 ||
  { tail -20 "$W/debootstrap.log"; exit 1; }
echo "test-install.sh: debootstrap from the tarball took $((SECONDS - s2)) s (root $root)"

# ---- 1. the unit, verified in a scratch root made by install.sh --root
V=$W/verify
mkdir -p "$V/etc" "$V/usr/lib/systemd" "$V/usr/sbin"
cp -a "$root"/etc/{passwd,group,shadow,gshadow,login.defs} "$V/etc/"
: > "$V/usr/sbin/nologin"; chmod 755 "$V/usr/sbin/nologin"
check "install.sh --root into a scratch root" scripts/install.sh --root "$V" "$bin"
cp -a /usr/lib/systemd/system "$V/usr/lib/systemd/"   # sysinit.target & co, for verify
if out=$(systemd-analyze verify --root="$V" doorbelld.service 2>&1) && [[ -z $out ]]; then
  ok "systemd-analyze verify doorbelld.service: no complaints"
else
  bad "systemd-analyze verify doorbelld.service:"; echo "$out" | sed 's/^/       /'
fi
for k in Type=notify WatchdogSec= Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
         PrivateTmp=yes 'DeviceAllow=char-gpiochip rw' 'DeviceAllow=char-video4linux rw' 'DeviceAllow=char-alsa rw' \
         'ExecStopPost=/usr/local/bin/doorbelld-boot --dir /var/lib/doorbell/ota --or-good -- --release-outputs' \
         'Environment=DOORBELLD_LAST_GOOD_CONFIG=/var/lib/doorbell/' ReadWritePaths=/var/lib/doorbell; do
  check "unit has $k" grep -qx "$k.*" scripts/doorbelld.service
done
check "--root: user doorbell in $V/etc/passwd only" bash -c "grep -q '^doorbell:' '$V/etc/passwd' && ! grep -q '^doorbell:' /etc/passwd"

# ---- 2. chroot install
src=/opt/doorbelld-src
mkdir -p "$root$src/scripts" "$root$src/dist" "$root$src/firmware/config"
cp scripts/install.sh scripts/doorbelld.service "$root$src/scripts/"
cp firmware/config/example.yaml "$root$src/firmware/config/"
cp "$bin" "$root$src/dist/doorbelld-linux-amd64"
cp "$(dirname "$bin")/$(basename "$bin" | sed 's/^doorbelld/doorbelld-boot/')" "$root$src/dist/doorbelld-boot-linux-amd64"
inroot() { chroot "$root" "$@"; }
modeof() { chroot "$root" stat -c '%a %U:%G' "$1"; }   # names from the chroot's passwd
want_mode() { local got; got=$(modeof "$1" 2>&1); [[ $got == "$2" ]] && ok "$1 is $2" || bad "$1 is '$got', want $2"; }

if inroot "$src/scripts/install.sh" > "$W/install1.log" 2>&1; then ok "install in chroot"; else bad "install in chroot"; cat "$W/install1.log"; fi
sed 's/^/       /' "$W/install1.log"
check "doorbelld --version runs" inroot /usr/local/bin/doorbelld --version
check "OTA launcher installed" test -x "$root/usr/local/bin/doorbelld-boot"
check "OTA slot seeded: current/doorbelld" test -x "$root/var/lib/doorbell/ota/current/doorbelld"
want_mode /var/lib/doorbell/ota "750 doorbell:doorbell"
out=$(inroot runuser -u doorbell -- /usr/local/bin/doorbelld-boot --dir /var/lib/doorbell/ota -- --version 2>&1 || true)
[[ $out == *$'\n'"doorbelld "* ]] && ok "the launcher execs the slot's doorbelld as user doorbell: $out" || bad "launcher: '$out'"
groups=$(inroot id -nG doorbell 2>&1 || true)
[[ " $groups " == *" gpio "* && " $groups " == *" video "* && " $groups " == *" audio "* && " $groups " == *" doorbell "* ]] &&
  ok "user doorbell in groups: $groups" || bad "user doorbell groups '$groups', want doorbell gpio video audio"
IFS=: read -r _ _ uid gid _ home shell < <(inroot getent passwd doorbell)
((uid < 1000)) && [[ $home == /var/lib/doorbell && $shell == /usr/sbin/nologin ]] &&
  ok "system user (uid $uid, home $home, shell $shell)" || bad "user doorbell: uid $uid home $home shell $shell"
check "groups gpio, video and audio are system groups" bash -c "
  for g in gpio video audio; do (( \$(chroot '$root' getent group \$g | cut -d: -f3) < 1000 )) || exit 1; done"
want_mode /usr/local/bin/doorbelld "755 root:root"
want_mode /etc/doorbell "750 root:doorbell"
want_mode /etc/doorbell/config.yaml "640 root:doorbell"
want_mode /var/lib/doorbell "750 doorbell:doorbell"
want_mode /etc/systemd/system/doorbelld.service "644 root:root"
want_mode /etc/udev/rules.d/60-doorbelld-gpio.rules "644 root:root"
want_mode /etc/systemd/journald.conf.d/60-doorbelld.conf "644 root:root"
check "the journal is bounded (SystemMaxUse=32M)" grep -qx 'SystemMaxUse=32M' "$root/etc/systemd/journald.conf.d/60-doorbelld.conf"
check "config.yaml is the example" cmp "$root/etc/doorbell/config.yaml" firmware/config/example.yaml
check "unit is scripts/doorbelld.service" cmp "$root/etc/systemd/system/doorbelld.service" scripts/doorbelld.service
check "enabled: multi-user.target.wants symlink" \
  test "$(readlink "$root/etc/systemd/system/multi-user.target.wants/doorbelld.service")" = /etc/systemd/system/doorbelld.service
check "binary is the one given" cmp "$root/usr/local/bin/doorbelld" "$bin"

# The config as the admin would edit it: set the button line.
sed -i 's/^\(    line:\) GPIO17$/\1 GPIO5/' "$root/etc/doorbell/config.yaml"
echo "# edited by the admin" >> "$root/etc/doorbell/config.yaml"
grep -q '^    line: GPIO5$' "$root/etc/doorbell/config.yaml" && ok "set gpio.button.line: GPIO5" || bad "could not set gpio.button.line"
if out=$(inroot /usr/local/bin/doorbelld --check-config --config /etc/doorbell/config.yaml 2>&1); then
  ok "doorbelld --check-config on the installed config: $out"
else
  bad "doorbelld --check-config on the installed config:"; echo "$out"
fi
check "user doorbell can read its config" inroot setpriv --reuid="$uid" --regid="$gid" --init-groups \
  /usr/local/bin/doorbelld --check-config --config /etc/doorbell/config.yaml
check "user doorbell can write its state dir" inroot setpriv --reuid="$uid" --regid="$gid" --init-groups \
  touch /var/lib/doorbell/seq.test
check "user doorbell cannot write the config" bash -c "! chroot '$root' setpriv --reuid=$uid --regid=$gid --init-groups \
  sh -c 'echo x >> /etc/doorbell/config.yaml' 2>/dev/null"
sum=$(sha256sum < "$root/etc/doorbell/config.yaml")

# Idempotent re-run: nothing duplicated, config kept.
if inroot "$src/scripts/install.sh" > "$W/install2.log" 2>&1; then ok "second install run"; else bad "second install run"; cat "$W/install2.log"; fi
check "re-run keeps the edited config" test "$(sha256sum < "$root/etc/doorbell/config.yaml")" = "$sum"
check "re-run reports the config kept" grep -q 'kept /etc/doorbell/config.yaml' "$W/install2.log"
check "one doorbell user, one gpio and one video group" test \
  "$(grep -c '^doorbell:' "$root/etc/passwd")$(grep -c '^gpio:' "$root/etc/group")$(grep -c '^video:' "$root/etc/group")" = 111
check "doorbell listed once in gpio" test "$(grep '^gpio:' "$root/etc/group" | tr ':,' '\n\n' | grep -cx doorbell)" = 1
check "state kept over the re-run" test -f "$root/var/lib/doorbell/seq.test"
want_mode /var/lib/doorbell "750 doorbell:doorbell"

# Uninstall keeps data; purge removes it.
if inroot "$src/scripts/install.sh" --uninstall > "$W/uninstall.log" 2>&1; then ok "--uninstall"; else bad "--uninstall"; cat "$W/uninstall.log"; fi
for f in /usr/local/bin/doorbelld /etc/systemd/system/doorbelld.service \
         /etc/systemd/system/multi-user.target.wants/doorbelld.service /etc/udev/rules.d/60-doorbelld-gpio.rules \
         /etc/systemd/journald.conf.d/60-doorbelld.conf; do
  check "--uninstall removed $f" test ! -e "$root$f" -a ! -L "$root$f"
done
check "--uninstall kept the config" test "$(sha256sum < "$root/etc/doorbell/config.yaml")" = "$sum"
check "--uninstall kept the state" test -f "$root/var/lib/doorbell/seq.test"
check "--uninstall kept user doorbell" inroot getent passwd doorbell
check "--purge without --uninstall is refused" bash -c "! chroot '$root' $src/scripts/install.sh --purge"
if inroot "$src/scripts/install.sh" --uninstall --purge > "$W/purge.log" 2>&1; then ok "--uninstall --purge"; else bad "--uninstall --purge"; cat "$W/purge.log"; fi
check "--purge removed /etc/doorbell" test ! -e "$root/etc/doorbell"
check "--purge removed /var/lib/doorbell" test ! -e "$root/var/lib/doorbell"
check "--purge removed user doorbell" bash -c "! chroot '$root' getent passwd doorbell"
check "--purge kept groups gpio, video and audio" inroot getent group gpio video audio
check "--uninstall --purge again is harmless" inroot "$src/scripts/install.sh" --uninstall --purge

echo "test-install: $pass passed, $fail failed"
((fail == 0))
