#!/bin/busybox sh
# /init of the board's boot initramfs (scripts/board.sh): loads the virtio
# and ext4 modules Debian's kernel has as modules, mounts the disk image
# (/dev/vda) and hands over to systemd on it, as a Pi's firmware hands over
# to the kernel's root=.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
KVER=$(uname -r)
while read -r m; do
  insmod "/lib/modules/$KVER/$m" 2>/dev/null
done < /modules.order
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
mkdir -p /newroot
# ext4's journal repairs what a power cut left; fsck runs under systemd
# (systemd-fsck-root) on a read-only mount first.
if ! mount -t ext4 -o ro /dev/vda /newroot; then
  echo "BOARD: cannot mount /dev/vda"; ls /dev; sleep 5; poweroff -f
fi
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
