package hal

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// ledge is a recorded edge that came after Lost edges the reader never
// saw (the kernel's queue overflowed); the first of them was at From.
type ledge struct {
	edge
	Lost uint32
	From time.Duration
}

// lose drops the edges at the given indexes from es, as an overflowing
// queue does, and marks the next edge kept with how many went before it.
func lose(es []edge, drop ...int) []ledge {
	gone := map[int]bool{}
	for _, i := range drop {
		gone[i] = true
	}
	var out []ledge
	var lost uint32
	var from time.Duration
	for i, e := range es {
		if gone[i] {
			if lost == 0 {
				from = e.T
			}
			lost++
			continue
		}
		out = append(out, ledge{e, lost, from})
		lost = 0
	}
	return out
}

func span(from, to int) []int {
	var is []int
	for i := from; i < to; i++ {
		is = append(is, i)
	}
	return is
}

// replayLost is replay for edges with losses: Input.Run's order, with
// EdgeAfterLoss for every edge.
func replayLost(l Logic, edges []ledge, until time.Duration, emit func(Event)) {
	for _, e := range edges {
		at := t0.Add(e.T)
		// The reader keeps up, ticking at each deadline between edges,
		// until the first edge it lost: from then on it was stalled, and
		// it takes the queued edges before any tick.
		if e.Lost > 0 {
			tickUntil(l, t0.Add(e.From), emit)
		} else {
			tickUntil(l, at, emit)
		}
		l.EdgeAfterLoss(at, e.Active, e.Lost, emit)
	}
	tickUntil(l, t0.Add(until), emit)
}

func TestButtonLogicLostEdges(t *testing.T) {
	ms := time.Millisecond
	def := ButtonOptions{Debounce: 50 * ms, LongPress: 2 * time.Second}
	ac := acChatter(100*ms, 300*ms, 50) // 30 edges, 10ms per cycle
	// A five-bounce press whose quiet-looking stretch hides lost edges:
	// up at 109ms, then (lost) down 112ms, up 170ms, then down 175ms: the
	// line was down 112–170ms, so nothing here is a release.
	fiveBounce := []edge{{100 * ms, true}, {103 * ms, false}, {106 * ms, true}, {109 * ms, false},
		{112 * ms, true}, {170 * ms, false}, {175 * ms, true}, {400 * ms, false}}
	tests := []struct {
		name  string
		opts  ButtonOptions
		edges []ledge
		want  string
	}{
		{"no loss", def, lose(ac), "ring@100ms"},
		// Dropping 12 edges (60ms) after an up edge leaves a gap longer
		// than the debounce: read naively, a release and a second ring.
		{"50Hz chatter, 60ms of edges lost", def, lose(ac, span(10, 22)...), "ring@100ms"},
		{"50Hz chatter, most edges lost", def, lose(ac, span(1, 28)...), "ring@100ms"},
		{"five bounces, two edges lost", def, lose(fiveBounce, 4, 5), "ring@100ms"},
		{"loss in a press, then a clean second press", def,
			append(lose(ac, span(10, 22)...), lose(press(time.Second, 100*ms))...), "ring@100ms ring@1s"},
		{"release edge after a loss, line then stays released", def,
			append(lose(cat(press(100*ms, 0)[:1], []edge{{150 * ms, false}, {160 * ms, true}, {300 * ms, false}}), 1, 2),
				lose(press(time.Second, 100*ms))...), "ring@100ms ring@1s"},
		{"press whose start was lost rings at the first edge seen", def,
			lose(acChatter(100*ms, 300*ms, 50), span(0, 21)...), "ring@208ms"},
		{"press whose every edge but the release was lost", def,
			lose(acChatter(100*ms, 300*ms, 50), span(0, 29)...), "ring@248ms"},
		{"lossy gap across the long-press time counts as held", def,
			lose([]edge{{100 * ms, true}, {150 * ms, false}, {160 * ms, true}, {2500 * ms, true}, {2600 * ms, false}}, 1, 2),
			"ring@100ms long_press@100ms"},
		{"min_press: a lossy gap past min_press fires the press", ButtonOptions{Debounce: 50 * ms, MinPress: 5 * ms},
			lose([]edge{{100 * ms, true}, {101 * ms, false}, {102 * ms, true}, {120 * ms, false}}, 1, 2), "ring@100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			l := NewButtonLogic(tt.opts, t0, false)
			replayLost(l, tt.edges, 10*time.Second, collect(&got))
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("events = %q, want %q", g, tt.want)
			}
			if l.Pressed() {
				t.Errorf("button still pressed at the end")
			}
			var lost uint64
			for _, e := range tt.edges {
				lost += uint64(e.Lost)
			}
			if l.Lost() != lost {
				t.Errorf("Lost() = %d, want %d", l.Lost(), lost)
			}
		})
	}
}

// The same losses read naively, as if no edge were lost, ring twice: the
// case above is a real one.
func TestButtonLogicNaiveReadRingsTwice(t *testing.T) {
	var got []string
	l := NewButtonLogic(ButtonOptions{Debounce: 50 * time.Millisecond}, t0, false)
	var es []edge
	for _, e := range lose(acChatter(100*time.Millisecond, 300*time.Millisecond, 50), span(10, 22)...) {
		es = append(es, e.edge)
	}
	replay(l, es, time.Second, collect(&got))
	if len(got) != 2 {
		t.Errorf("naive read gave %v, want two rings (the false release this guards against)", got)
	}
}

func TestMotionLogicLostEdges(t *testing.T) {
	s := time.Second
	plain := MotionOptions{Hold: 30 * s}
	minActive := MotionOptions{Hold: 30 * s, MinActive: s}
	cooldown := MotionOptions{Hold: 30 * s, Cooldown: time.Minute}
	tests := []struct {
		name  string
		opts  MotionOptions
		edges []ledge
		want  string
	}{
		// Active 10–13s, then (lost) active 20–50s, then active at 60s:
		// the sensor never rested for the hold time.
		{"lost edges in a long gap are no end/start pair", plain,
			lose([]edge{{10 * s, true}, {13 * s, false}, {20 * s, true}, {50 * s, false}, {60 * s, true}, {65 * s, false}}, 2, 3),
			"motion_start@10s motion_end@1m35s"},
		{"lost activation on an idle sensor starts motion when seen", plain,
			lose([]edge{{10 * s, true}, {12 * s, false}}, 0), "motion_start@12s motion_end@42s"},
		{"min_active rejects an unseen activation it cannot judge", minActive,
			lose([]edge{{10 * s, true}, {10200 * time.Millisecond, false}}, 0), ""},
		{"min_active: a lossy gap past min_active starts motion", minActive,
			lose([]edge{{10 * s, true}, {10100 * time.Millisecond, false}, {10200 * time.Millisecond, true}, {13 * s, false}}, 1, 2),
			"motion_start@10s motion_end@43s"},
		{"cooldown ignores a lossy re-trigger", cooldown,
			lose([]edge{{10 * s, true}, {13 * s, false}, {50 * s, true}, {51 * s, false}, {52 * s, true}, {53 * s, false}}, 2, 3),
			"motion_start@10s motion_end@43s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			l := NewMotionLogic(tt.opts, t0, false, collect(&got))
			replayLost(l, tt.edges, 10*time.Minute, collect(&got))
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("events = %q, want %q", g, tt.want)
			}
		})
	}
}

// doorHour is an hour of presses on an AC-chatter or bouncing push, a
// released for a random 2–10s between them: the edges and where each press's edges end.
func doorHour(r *rand.Rand) (es []edge, ends []int) {
	ms := time.Millisecond
	for at := time.Second; at < time.Hour; {
		hold := time.Duration(150+r.IntN(2850)) * ms
		switch r.IntN(3) {
		case 0:
			es = append(es, acChatter(at, hold, 50)...)
		case 1:
			es = append(es, acChatter(at, hold, 60)...)
		default:
			es = append(es, bounce(at, 5, 2*ms, true)...)
			es = append(es, bounce(at+hold, 5, 2*ms, false)...)
		}
		ends = append(ends, len(es))
		at += hold + time.Duration(2000+r.IntN(8000))*ms
	}
	return es, ends
}

// TestButtonHourOfChatterWithLosses: an hour of chattering and bouncing
// presses, read by a reader that stalls at random and loses runs of 1–100
// edges, never rings more often than there were presses; when no run
// swallows the end of a press, it rings exactly once per press and long
// presses match the clean read.
func TestButtonHourOfChatterWithLosses(t *testing.T) {
	opts := ButtonOptions{Debounce: 50 * time.Millisecond, LongPress: 2 * time.Second}
	count := func(evs []string, typ EventType) int {
		n := 0
		for _, e := range evs {
			if strings.HasPrefix(e, string(typ)+"@") {
				n++
			}
		}
		return n
	}
	for seed := uint64(1); seed <= 4; seed++ {
		for _, within := range []bool{true, false} {
			t.Run(fmt.Sprintf("seed %d within presses %v", seed, within), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 0xd00b))
				es, ends := doorHour(r)
				presses := len(ends)

				var clean []string
				replayLost(NewButtonLogic(opts, t0, false), lose(es), 2*time.Hour, collect(&clean))
				if count(clean, Ring) != presses {
					t.Fatalf("clean read: %d rings from %d presses", count(clean, Ring), presses)
				}

				// Random stalls: runs of 1–100 lost edges. Within presses,
				// a run starts after a press's first edge and ends before
				// its last (the kernel keeps the newest events, so the end
				// of a burst survives); otherwise anywhere.
				var drop []int
				first := 0
				for p, i := 0, 0; i < len(es)-1; {
					for p < len(ends) && i >= ends[p] {
						first = ends[p]
						p++
					}
					if r.IntN(100) != 0 || (within && i == first) {
						i++
						continue
					}
					n := 1 + r.IntN(100)
					if within {
						n = min(n, ends[p]-1-i)
					} else {
						n = min(n, len(es)-1-i)
					}
					drop = append(drop, span(i, i+n)...)
					i += n + 1
				}
				lossy := lose(es, drop...)
				var got []string
				l := NewButtonLogic(opts, t0, false)
				replayLost(l, lossy, 2*time.Hour, collect(&got))
				rings := count(got, Ring)
				if rings > presses {
					t.Errorf("%d rings from %d presses with %d edges lost", rings, presses, l.Lost())
				}
				if within && strings.Join(got, " ") != strings.Join(clean, " ") {
					t.Errorf("%d rings, %d long presses from %d presses (%d long), %d edges lost; want the clean read's events",
						rings, count(got, LongPress), presses, count(clean, LongPress), l.Lost())
				}
				if l.Lost() != uint64(len(drop)) || l.Pressed() {
					t.Errorf("lost %d of %d dropped; pressed at the end %v", l.Lost(), len(drop), l.Pressed())
				}

				// Read naively, the same losses inside presses give false
				// rings: the test has teeth. (With losses anywhere, runs
				// that swallow whole presses can outweigh them.)
				var naive []string
				var plain []edge
				for _, e := range lossy {
					plain = append(plain, e.edge)
				}
				replay(NewButtonLogic(opts, t0, false), plain, 2*time.Hour, collect(&naive))
				if within && count(naive, Ring) <= presses {
					t.Errorf("naive read of the lossy edges: %d rings from %d presses; want false rings", count(naive, Ring), presses)
				}
				t.Logf("%d presses, %d edges, %d lost: %d rings (naive read: %d)",
					presses, len(es), len(drop), rings, count(naive, Ring))
			})
		}
	}
}
