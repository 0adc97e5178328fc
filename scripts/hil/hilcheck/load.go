package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The presses-under-load campaign (issue: hal under load). CPU hogs run in
// the guest beside doorbelld while bouncing, chattering and clean presses
// are made through gpio-sim. The stimulus itself is starved too, so the
// gaps it leaves are not the ones it meant; the kernel's own edge stamps,
// from doorbelld's debug log (`hal: edge`), say what the line really did.
// Every ring is attributed to its press by its time, and:
//   - each press rings at least once;
//   - a second ring in a press only at an active edge that followed a
//     release the kernel stamped at >= debounce, with no lost edges;
//   - no ring at an edge that came after lost edges inside a press.

type kedge struct {
	at     time.Time
	active bool
	lost   int
	delay  time.Duration
	seq    int
}

type pressWindow struct {
	kind       string
	start, end time.Time
}

var edgeRE = regexp.MustCompile(`msg="hal: edge" input=button at=(\S+) edge=\S+ active=(\S+) after=\S+ seqno=\d+ line_seqno=(\d+) lost=(\d+) delay=(\S+)`)

// readEdges parses the button's edge records from doorbelld's log.
func readEdges(path string) ([]kedge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []kedge
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := edgeRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			return nil, fmt.Errorf("edge time %q: %w", m[1], err)
		}
		seq, _ := strconv.Atoi(m[3])
		lost, _ := strconv.Atoi(m[4])
		delay, _ := time.ParseDuration(m[5])
		es = append(es, kedge{at: at, active: m[2] == "true", lost: lost, delay: delay, seq: seq})
	}
	return es, sc.Err()
}

// hogs starts n busy loops in the guest; the returned func stops them.
func hogs(n int) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for i := 0; i < n; i++ {
		c := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// pressKinds are the scripted presses, made in turn.
var pressKinds = []string{"bounce", "chatter50hz", "clean"}

// press makes one press of the given kind and returns its window: from
// before the first write to after the last one returned.
func (c *checker) press(kind string) pressWindow {
	b := c.button
	w := pressWindow{kind: kind, start: time.Now()}
	switch kind {
	case "bounce": // 5 bounces 3ms apart, held 200ms, released with 2 bounces
		b.set(false)
		for i := 0; i < 5; i++ {
			time.Sleep(3 * time.Millisecond)
			b.set(true)
			time.Sleep(3 * time.Millisecond)
			b.set(false)
		}
		time.Sleep(200 * time.Millisecond)
		b.set(true)
		time.Sleep(3 * time.Millisecond)
		b.set(false)
		time.Sleep(3 * time.Millisecond)
		b.set(true)
	case "chatter50hz": // an optocoupler on a 50 Hz bell transformer, held 300ms
		for i := 0; i < 30; i++ {
			b.set(false)
			time.Sleep(5 * time.Millisecond)
			b.set(true)
			time.Sleep(5 * time.Millisecond)
		}
	default: // clean, held 150ms
		b.set(false)
		time.Sleep(150 * time.Millisecond)
		b.set(true)
	}
	w.end = time.Now()
	return w
}

// pressesUnderLoad runs n presses with nhogs busy loops in the guest and
// judges every ring by the kernel's edge stamps in logPath.
func (c *checker) pressesUnderLoad(n, nhogs int, logPath string) {
	stop, err := hogs(nhogs)
	if err != nil {
		result("presses-under-load", false, "start %d CPU hogs: %v", nhogs, err)
		return
	}
	n0 := c.s.count()
	var ws []pressWindow
	for i := 0; i < n; i++ {
		ws = append(ws, c.press(pressKinds[i%len(pressKinds)]))
		// Quiet well past debounce, short of long_press, before the next.
		time.Sleep(c.debounce + 700*time.Millisecond)
	}
	time.Sleep(time.Second) // room for a late wrong ring
	stop()

	edges, err := readEdges(logPath)
	if err != nil {
		result("presses-under-load", false, "read the edge log %s: %v", logPath, err)
		return
	}
	// Edges per press, by kernel stamp (1 ms slack: the stamp is taken
	// inside the sysfs write that the window brackets).
	const slack = time.Millisecond
	per := make([][]kedge, n)
	stray := 0
	for _, e := range edges {
		if e.at.Before(ws[0].start.Add(-slack)) {
			continue // before the campaign
		}
		found := false
		for i, w := range ws {
			if !e.at.Before(w.start.Add(-slack)) && !e.at.After(w.end.Add(slack)) {
				per[i] = append(per[i], e)
				found = true
				break
			}
		}
		if !found {
			stray++
		}
	}
	var rings []event
	for _, e := range c.s.since(n0) {
		if e.Type == "ring" {
			rings = append(rings, e)
		}
	}
	ok := stray == 0
	var problems []string
	if stray > 0 {
		problems = append(problems, fmt.Sprintf("%d edges outside every press window", stray))
	}
	ringsPer := make([]int, n)
	totalLost, allowedExtra := 0, 0
	var maxDelay, maxGap time.Duration
	for i, w := range ws {
		es := per[i]
		var mine []event
		for _, r := range rings {
			if !r.At.Before(w.start.Add(-slack)) && !r.At.After(w.end.Add(slack)) {
				mine = append(mine, r)
			}
		}
		ringsPer[i] = len(mine)
		// Releases the kernel stamped at >= debounce, ended by a clean
		// active edge: the only places a second ring may come from.
		legit := map[int]bool{} // index of the active edge ending such a release
		lostAt := map[int]bool{}
		for j, e := range es {
			totalLost += e.lost
			maxDelay = max(maxDelay, e.delay)
			if e.lost > 0 {
				lostAt[j] = true
			}
			if j > 0 && e.active && !es[j-1].active {
				gap := e.at.Sub(es[j-1].at)
				maxGap = max(maxGap, gap)
				if gap >= c.debounce && e.lost == 0 {
					legit[j] = true
				}
			}
		}
		allowedExtra += len(legit)
		if len(mine) == 0 {
			problems = append(problems, fmt.Sprintf("press %d (%s): no ring", i, w.kind))
			ok = false
			continue
		}
		if len(mine) > 1+len(legit) {
			problems = append(problems, fmt.Sprintf("press %d (%s): %d rings, kernel releases >= %v: %d", i, w.kind, len(mine), c.debounce, len(legit)))
			ok = false
		}
		for k, r := range mine {
			j := edgeAt(es, r.At)
			switch {
			case j < 0:
				problems = append(problems, fmt.Sprintf("press %d (%s): ring at %s matches no active edge", i, w.kind, r.At.Format(time.StampMicro)))
				ok = false
			case lostAt[j]:
				problems = append(problems, fmt.Sprintf("press %d (%s): ring at an edge after %d lost edges", i, w.kind, es[j].lost))
				ok = false
			case k > 0 && !legit[j]:
				problems = append(problems, fmt.Sprintf("press %d (%s): ring %d at %s after a kernel release shorter than %v",
					i, w.kind, k+1, r.At.Format(time.StampMicro), c.debounce))
				ok = false
			}
		}
		fmt.Printf("HIL-PRESS: %d %s edges=%d lost=%d kernel_releases_over_debounce=%d rings=%d\n",
			i, w.kind, len(es), sumLost(es), len(legit), len(mine))
	}
	outside := 0
	for _, r := range rings {
		in := false
		for _, w := range ws {
			if !r.At.Before(w.start.Add(-slack)) && !r.At.After(w.end.Add(slack)) {
				in = true
			}
		}
		if !in {
			outside++
		}
	}
	if outside > 0 {
		problems = append(problems, fmt.Sprintf("%d rings outside every press", outside))
		ok = false
	}
	detail := fmt.Sprintf("%d presses with %d CPU hogs: rings per press %v (%d rings; %d kernel-stamped releases >= %v allowed an extra one), "+
		"lost edges %d, longest reader delay %v, longest kernel release inside a press %v",
		n, nhogs, ringsPer, len(rings), allowedExtra, c.debounce, totalLost, maxDelay.Round(time.Microsecond), maxGap.Round(time.Microsecond))
	if len(problems) > 0 {
		detail += "; " + strings.Join(problems, "; ")
	}
	result("presses-under-load", ok, "%s", detail)
}

// edgeAt is the index of the active edge of es stamped at t (the event's
// time has millisecond precision), or -1.
func edgeAt(es []kedge, t time.Time) int {
	for j, e := range es {
		if e.active && abs(e.at.Sub(t)) <= time.Millisecond {
			return j
		}
	}
	return -1
}

func sumLost(es []kedge) int {
	n := 0
	for _, e := range es {
		n += e.lost
	}
	return n
}
