package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// bar is a progress bar on a terminal, or a line per 10% elsewhere.
type bar struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	step  int64 // last 10% step printed (no tty)
	drawn bool
}

func newBar(w io.Writer) *bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &bar{w: w, tty: tty, step: -1}
}

// update shows done of total bytes.
func (b *bar) update(done, total int64) {
	now := time.Now()
	if b.start.IsZero() {
		b.start = now
	}
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	rate := ""
	if el := now.Sub(b.start).Seconds(); el > 0.2 {
		rate = fmt.Sprintf("  %.1f MiB/s", float64(done)/(1<<20)/el)
	}
	if !b.tty {
		if s := pct / 10; s > b.step {
			b.step = s
			fmt.Fprintf(b.w, "  %3d%%  %s/%s%s\n", pct, mib(done), mib(total), rate)
		}
		return
	}
	if now.Sub(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = now
	const width = 30
	fill := int(done * width / total)
	fmt.Fprintf(b.w, "\r  [%s%s] %3d%%  %s/%s%s   ", strings.Repeat("#", fill), strings.Repeat("-", width-fill), pct, mib(done), mib(total), rate)
	b.drawn = true
}

// note prints a line of text below the bar.
func (b *bar) note(s string) {
	b.done()
	fmt.Fprintln(b.w, s)
}

// done ends the bar's line.
func (b *bar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
