package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// board is the emulated board as a process the campaign powers on and
// off: qemu with the disk image, its serial console (the kernel's and
// journald's console: ForwardToConsole) read line by line, and the root
// shell on its virtio console. Killing qemu is pulling the power plug:
// what the guest had not written to the disk image is gone.
type board struct {
	argv    []string // qemu's command line
	dir     string   // console logs
	ctl     string   // the control socket qemu creates
	boots   int
	cmd     *exec.Cmd
	sh      *shell
	mu      sync.Mutex
	lines   []string // the serial console of this boot
	flushed chan struct{}
	exited  chan struct{} // closed when qemu has ended
}

// powerOn starts qemu and waits for the board's shell.
func (b *board) powerOn(deadline time.Time) error {
	b.boots++
	os.Remove(b.ctl)
	b.mu.Lock()
	b.lines = nil
	b.mu.Unlock()
	b.cmd = exec.Command(b.argv[0], b.argv[1:]...)
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	b.cmd.Stderr = b.cmd.Stdout
	logf, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("console-%03d.log", b.boots)))
	if err != nil {
		return err
	}
	if err := b.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("power on: start %s: %w", b.argv[0], err)
	}
	b.flushed, b.exited = make(chan struct{}), make(chan struct{})
	go func(cmd *exec.Cmd, flushed, exited chan struct{}) {
		<-flushed // Wait closes the pipe: read it to the end first
		cmd.Wait()
		close(exited)
	}(b.cmd, b.flushed, b.exited)
	go func() {
		defer close(b.flushed)
		defer logf.Close()
		r := bufio.NewReader(io.TeeReader(out, logf))
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				b.mu.Lock()
				b.lines = append(b.lines, strings.TrimRight(l, "\r\n"))
				b.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	b.sh, err = dialShell(b.ctl, deadline)
	if err != nil {
		return fmt.Errorf("power on (boot %d): %w", b.boots, err)
	}
	return nil
}

// cut pulls the plug: SIGKILL to qemu, then the console's last lines are
// read to the end (what the guest reported before the cut). A board that
// has already gone off (the guest pulled its own plug) is only tidied.
func (b *board) cut() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
	if b.sh != nil {
		b.sh.c.Close()
	}
	b.cmd, b.sh = nil, nil
}

// powerOff shuts the guest down cleanly.
func (b *board) powerOff() {
	if b.cmd == nil {
		return
	}
	b.sh.run("systemctl poweroff", 10*time.Second)
	if !b.wentOff(2 * time.Minute) {
		b.cmd.Process.Signal(syscall.SIGKILL)
		<-b.exited
	}
	b.sh.c.Close()
	b.cmd, b.sh = nil, nil
}

// wentOff waits up to d for qemu to end by itself (a poweroff, or the
// guest's own reset under -no-reboot) and says whether it did.
func (b *board) wentOff(d time.Duration) bool {
	select {
	case <-b.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// mark returns how many console lines this boot has shown so far: a
// later find or waitLine from it sees only what came after.
func (b *board) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// find returns the first submatch of re on each console line of this
// boot from line from (a mark) on.
func (b *board) find(re *regexp.Regexp, from int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines[min(from, len(b.lines)):] {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// The board's wiring as the harness drives it (board-gpio.service makes
// the gpio-sim lines): the button is line 0 of sim_gpio, pressed when
// pulled down; the chime relay is line 2.
const (
	buttonPull = "/run/gpiosim/sim_gpio0/pull"
	chimeValue = "/run/gpiosim/sim_gpio2/value"
)

// pressCmd is the shell line for one press of the button held for hold
// (a sleep(1) duration).
func pressCmd(hold string) string {
	return "echo pull-down > " + buttonPull + "; sleep " + hold + "; echo pull-up > " + buttonPull
}

// waitLine waits up to d for a console line of this boot from line from
// on matching re (which has one group), polling every 5 ms: a cut aimed
// after a line is no more than that late.
func (b *board) waitLine(re *regexp.Regexp, from int, d time.Duration) bool {
	return poll(d, 5*time.Millisecond, func() bool { return len(b.find(re, from)) > 0 })
}

func (b *board) run(cmd string, d time.Duration) (string, int) {
	if b.sh == nil {
		return "board is off", -1
	}
	out, rc, err := b.sh.run(cmd, d)
	if err != nil {
		return out + err.Error(), -1
	}
	return out, rc
}

// tail returns the last n console lines of this boot, joined.
func (b *board) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}
