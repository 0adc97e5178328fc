// Command plugpull pulls the emulated board's power plug from inside, at
// one exact step of an OTA install. It is part of the power-cut campaign
// of scripts/board.sh and is only ever in the test image, never in a
// release.
//
// The install's last steps (the binary fsynced, renamed into its slot,
// the trial recorded, current swapped) take ~55 ms of a ~6 s update: a
// cut timed from the host, which learns of a step through the serial
// console, cannot land in them. plugpull watches the OTA directory with
// inotify instead and, the moment the chosen file-system change is made,
// reboots the kernel without syncing (sysrq b). qemu runs with
// -no-reboot, so the reset ends qemu: the same as the host killing it at
// that instant. What the guest had not written to the disk is lost.
//
//	ota dir ──inotify──▶ plugpull ──"plugpull: pulling the plug at X"──▶ /dev/console
//	                         └──────── "b" ──▶ /proc/sysrq-trigger ──▶ qemu exits
//
// The steps it can cut at, each right after the change and before the
// install's next fsync returns (so the change may or may not survive):
//
//	written  the temp file in the new slot has reached --size bytes (its fsync runs)
//	placed   the temp file renamed to slot-X/doorbelld (the slot directory's fsync runs)
//	armed    state.json replaced after placed (the trial; the directory's fsync runs)
//	swapped  current replaced after armed (the directory's fsync runs)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var steps = []string{"written", "placed", "armed", "swapped"}

func main() {
	dir := flag.String("dir", "/var/lib/doorbell/ota", "the OTA directory")
	at := flag.String("at", "", "the step to cut at: "+strings.Join(steps, ", "))
	size := flag.Int64("size", 0, "the new binary's size in bytes (for written)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	dry := flag.Bool("dry-run", false, "report the step, do not pull the plug")
	flag.Parse()
	go func() {
		time.Sleep(*timeout)
		say("plugpull: gave up waiting for %s after %v", *at, *timeout)
		os.Exit(1)
	}()
	step, where, err := watch(*dir, *at, *size, func() { say("plugpull: watching %s for %s", *dir, *at) })
	if err != nil {
		say("plugpull: %v", err)
		os.Exit(1)
	}
	if *dry {
		say("plugpull: reached %s (%s), dry run", step, where)
		return
	}
	say("plugpull: pulling the plug at %s (%s)", step, where)
	if err := os.WriteFile("/proc/sysrq-trigger", []byte("b"), 0); err != nil {
		say("plugpull: sysrq: %v", err)
		os.Exit(1)
	}
	select {} // the reset comes
}

// say writes one line to the console and waits until it is sent, so the
// host has it before the reset.
func say(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	f, err := os.OpenFile("/dev/console", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprint(os.Stderr, line)
		return
	}
	defer f.Close()
	f.WriteString(line)
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1) // tcdrain
}

// watch waits, with inotify on dir and its slots, until the install has
// made the change of step at (or of a later one, should it pass by
// unseen) and returns that step and the file. ready is called once the
// watches are in place.
func watch(dir, at string, size int64, ready func()) (step, where string, err error) {
	target := slices.Index(steps, at)
	if target < 0 {
		return "", "", fmt.Errorf("--at %q: want one of %s", at, strings.Join(steps, ", "))
	}
	if at == "written" && size <= 0 {
		return "", "", errors.New("--at written needs --size")
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return "", "", fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	dirs := map[int32]string{}
	for _, d := range []string{dir, filepath.Join(dir, "slot-a"), filepath.Join(dir, "slot-b")} {
		wd, err := unix.InotifyAddWatch(fd, d, unix.IN_MOVED_TO|unix.IN_MODIFY)
		if err != nil {
			return "", "", fmt.Errorf("watch %s: %w", d, err)
		}
		dirs[int32(wd)] = d
	}
	ready()
	reached := -1 // the last step seen, in order
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return "", "", fmt.Errorf("read inotify: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			d := dirs[ev.Wd]
			slot, moved := d != dir, ev.Mask&unix.IN_MOVED_TO != 0
			switch {
			case reached < 0 && slot && ev.Mask&unix.IN_MODIFY != 0 && strings.HasPrefix(name, "."):
				if fi, err := os.Stat(filepath.Join(d, name)); err != nil || fi.Size() < size {
					continue
				}
				reached = 0
			case reached < 1 && slot && moved && name == "doorbelld":
				reached = 1
			case reached == 1 && !slot && moved && name == "state.json":
				reached = 2
			case reached == 2 && !slot && moved && name == "current":
				reached = 3
			default:
				continue
			}
			if reached >= target {
				return steps[reached], filepath.Join(d, name), nil
			}
		}
	}
}
